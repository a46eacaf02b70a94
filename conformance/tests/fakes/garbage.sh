#!/bin/sh
# Fake driver: prints a line that is not JSON.
# Usage: sh FAKE PGID_FILE. Writes its process group to PGID_FILE and leaves a child in the group
# that must not survive the run (the orchestrator kills the whole group).
cut -d" " -f5 /proc/$$/stat > "$1"
sleep 1000 </dev/null >/dev/null 2>&1 &
id_of() { printf "%s" "$1" | sed -n "s/.*\"id\":\([0-9]*\).*/\1/p"; }
echo "{\"ready\":true,\"driver\":\"fake\"}"
echo "hello from a VM banner"
sleep 1000
