"""The provider plugin `pulumi-resource-microvisor`: the same providers over Pulumi's gRPC protocol."""
