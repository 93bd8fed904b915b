"""The consumer stack's entry point (``examples/consumer/Pulumi.yaml``).

Pulumi runs this folder with it on ``sys.path``, so ``consumer`` is the module beside this file.
"""

from consumer import deploy

deploy()
