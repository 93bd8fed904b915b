"""The provider plugin `pulumi-resource-microvisor`: the same provider classes as the dynamic
resources, served over Pulumi's provider gRPC protocol (YAML, every language, `pulumi import`).

``server.py`` translates between the wire and the provider classes and decides nothing;
``tokens.py`` names the type tokens and config keys; ``schema.py`` generates the package schema;
``__main__.py`` starts the server as the engine expects (its port on stdout, the engine's address
as its argument).
"""

PACKAGE = "microvisor"
MODULE = "index"
