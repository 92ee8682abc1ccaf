#!/bin/sh
# core.echo: prints its message: the first argument, else $ATTUNE_ACTION_MESSAGE, else a default.
set -eu
if [ "$#" -gt 0 ]; then
    message=$1
else
    message=${ATTUNE_ACTION_MESSAGE:-Hello, World!}
fi
printf '%s\n' "$message"
