#!/bin/sh
# Fake driver: answers create, then prints events forever.
# Usage: sh FAKE PGID_FILE. Writes its process group to PGID_FILE and leaves a child in the group
# that must not survive the run (the orchestrator kills the whole group).
cut -d" " -f5 /proc/$$/stat > "$1"
sleep 1000 </dev/null >/dev/null 2>&1 &
id_of() { printf "%s" "$1" | sed -n "s/.*\"id\":\([0-9]*\).*/\1/p"; }
echo "{\"ready\":true,\"driver\":\"fake\"}"
read -r line
echo "{\"id\":$(id_of "$line"),\"code\":0}"
while :; do echo "{\"client\":\"a\",\"event\":\"room_online_user_count_update\",\"room\":\"r1\",\"count\":1}"; done
