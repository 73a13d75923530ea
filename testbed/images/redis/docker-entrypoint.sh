#!/bin/sh
# As the official image's entrypoint: options alone start redis-server, and redis-server started
# without a configuration file admits other containers (protected mode off; the stack's network is
# the boundary). Any other command runs as given.
set -e
case "$1" in
  -*|"") set -- redis-server "$@" ;;
esac
if [ "$1" = redis-server ]; then
  shift
  set -- redis-server --protected-mode no "$@"
fi
exec "$@"
