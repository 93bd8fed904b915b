"""The fleet stack's entry point (root Pulumi.yaml: ``main: examples/fleet/``).

Pulumi runs this folder with it on ``sys.path``, so ``fleet`` is the module beside this file.
"""

from fleet import deploy

deploy()
