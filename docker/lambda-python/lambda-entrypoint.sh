#!/bin/sh
# The image's ENTRYPOINT, as in AWS's Lambda base images: the handler is the one argument
# (the function's CMD). On Lambda, and under `sam local`, AWS_LAMBDA_RUNTIME_API is set and
# the runtime starts at once; under a plain `docker run` the runtime interface emulator
# serves the Runtime API first (and the invoke endpoint on port 8080).
if [ $# -ne 1 ]; then
  echo "entrypoint requires the handler name to be the first argument" 1>&2
  exit 142
fi
export _HANDLER="$1"

RUNTIME_ENTRYPOINT=/var/runtime/bootstrap
if [ -z "${AWS_LAMBDA_RUNTIME_API}" ]; then
  exec /usr/local/bin/aws-lambda-rie $RUNTIME_ENTRYPOINT
else
  exec $RUNTIME_ENTRYPOINT
fi
