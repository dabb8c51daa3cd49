"""schemathesis hooks for .ci/schemathesis: the publish route takes the
component's raw bytes as application/wasm, which schemathesis sends like
application/octet-stream once told so."""

import schemathesis

schemathesis.serializer.alias("application/wasm", "application/octet-stream")
