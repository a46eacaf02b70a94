#!/bin/sh
# Fake driver: answers everything, including exit, but never exits.
# Usage: sh FAKE PGID_FILE. Writes its process group to PGID_FILE and leaves a child in the group
# that must not survive the run (the orchestrator kills the whole group).
cut -d" " -f5 /proc/$$/stat > "$1"
sleep 1000 </dev/null >/dev/null 2>&1 &
id_of() { printf "%s" "$1" | sed -n "s/.*\"id\":\([0-9]*\).*/\1/p"; }
echo "{\"ready\":true,\"driver\":\"fake\"}"
while read -r line; do echo "{\"id\":$(id_of "$line"),\"code\":0}"; done
# stdin is closed now; a correct driver would have exited long ago.
sleep 1000
