//! The Lua scripts: every change that touches several keys is one script, so no observer sees a
//! log entry without its room index or its doorbell, or a reaped node still listed as live.
//!
//! Time is Redis's: an entry's time is its stream ID's millisecond part (`XADD *` never goes
//! backwards), and liveness is stamped with `TIME`. So the nodes' clocks never have to agree.

use std::sync::LazyLock;

use redis::Script;

/// Appends commands to a room's log. KEYS: the log, `rl:rooms`, the node's room set.
/// ARGV: room ID, node number, then one JSON command per entry. Returns `{prev, {ids}}`: the ID
/// of the entry before them ("0-0" if none) and the new entry IDs, in order. The doorbell
/// carries the entries themselves (`room \n node \n prev \n id \n command ...`): a node whose
/// copy is at `prev` applies them without reading the log, and the appending node, if it was at
/// `prev`, applies its own commands without reading them back (and ignores its own doorbell).
/// Anyone else reads from its offset.
pub static APPEND: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
local prev = '0-0'
if #last > 0 then prev = last[1][1] end
local ids = {}
local bell = {ARGV[1], ARGV[2], prev}
for i = 3, #ARGV do
  local id = redis.call('XADD', KEYS[1], '*', 'c', ARGV[i])
  ids[#ids + 1] = id
  bell[#bell + 1] = id
  bell[#bell + 1] = ARGV[i]
end
redis.call('SADD', KEYS[2], ARGV[1])
redis.call('SADD', KEYS[3], ARGV[1])
redis.call('PUBLISH', 'rl:bell', table.concat(bell, '\n'))
return {prev, ids}
"#,
    )
});

/// Fires a room's timers that are due by `deadline`: appends a `tick` unless Redis's clock has
/// not reached it yet, or an entry at or after it is already in the log (applying any entry
/// fires what is due at its time first, so that entry fires the timer; several nodes racing to
/// tick therefore append one tick). KEYS: the log. ARGV: deadline (unix ms), room ID.
/// Returns the milliseconds still to wait (0: nothing to wait for).
pub static TICK: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local due = tonumber(ARGV[1])
if now < due then return due - now end
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
if #last == 0 then return 0 end
local ms = tonumber(string.match(last[1][1], '^(%d+)'))
if ms >= due then return 0 end
redis.call('XADD', KEYS[1], '*', 'c', '{"t":"tick"}')
redis.call('PUBLISH', 'rl:bell', ARGV[2])
return 0
"#,
    )
});

/// Registers or refreshes a node's liveness. KEYS: the node's liveness key, `rl:nodes`,
/// `rl:node:seq`. ARGV: node number, TTL ms, 1 to register (0 to refresh). Returns Redis's time
/// (unix ms), or -1 when refreshing a node that was reaped (it must not come back under that
/// number: its sessions were handed to the reaper's deadline). A refresh that finds the node
/// counter gone too is a Redis that lost its data, not a reaping: the node keeps its number and
/// raises the counter past it, so no new node is given a number in use.
pub static ALIVE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
if ARGV[3] == '0' and redis.call('HEXISTS', KEYS[2], ARGV[1]) == 0 then
  if redis.call('EXISTS', KEYS[3]) == 1 then return -1 end
end
local seq = tonumber(redis.call('GET', KEYS[3]) or '0')
if seq < tonumber(ARGV[1]) then redis.call('SET', KEYS[3], ARGV[1]) end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('SET', KEYS[1], now, 'PX', ARGV[2])
redis.call('HSET', KEYS[2], ARGV[1], now)
return now
"#,
    )
});

/// Finds nodes whose liveness key expired, and for each appends `node_lost{node, last_heard_ms}`
/// to every room it appended to, then forgets the node. Idempotent: a second reaper finds the
/// node gone from `rl:nodes`. KEYS: `rl:nodes`. ARGV: the calling node's number (never reaped by
/// itself). Returns the rooms that got a `node_lost`.
pub static REAP: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local reaped = {}
local nodes = redis.call('HGETALL', KEYS[1])
for i = 1, #nodes, 2 do
  local n, last = nodes[i], nodes[i + 1]
  if n ~= ARGV[1] and redis.call('EXISTS', 'rl:node:' .. n) == 0 then
    redis.call('HDEL', KEYS[1], n)
    local set = 'rl:node:' .. n .. ':rooms'
    for _, room in ipairs(redis.call('SMEMBERS', set)) do
      local entry = '{"t":"node_lost","node":' .. n .. ',"last_heard_ms":' .. last .. '}'
      redis.call('XADD', 'rl:{' .. room .. '}:log', 'NOMKSTREAM', '*', 'c', entry)
      redis.call('PUBLISH', 'rl:bell', room)
      reaped[#reaped + 1] = room
    end
    redis.call('DEL', set)
  end
end
return reaped
"#,
    )
});

/// Compares two stream IDs (`ms-seq`) in Lua: -1, 0 or 1.
const IDCMP: &str = r#"
local function idcmp(a, b)
  local am, as = string.match(a, '^(%d+)-(%d+)$')
  local bm, bs = string.match(b, '^(%d+)-(%d+)$')
  am, as, bm, bs = tonumber(am), tonumber(as), tonumber(bm), tonumber(bs)
  if am ~= bm then return am < bm and -1 or 1 end
  if as ~= bs then return as < bs and -1 or 1 end
  return 0
end
"#;

/// Reads a room's log after `offset`, checking first that the entry at `offset` is still there.
/// KEYS: the log, the room's snapshot hash. ARGV: offset ("0-0": from the start), most entries.
/// Returns `{0, entries}`; `{2}` when the offset's entry was trimmed below a newer snapshot
/// (load it); `{1}` when it is gone with no newer snapshot: Redis lost its data (restarted
/// without persistence, failed over to an empty replica), and a replica built from the old log
/// must not go on with a new one.
pub static READ: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        r#"{IDCMP}
local start = '-'
if ARGV[1] ~= '0-0' then
  if #redis.call('XRANGE', KEYS[1], ARGV[1], ARGV[1]) == 0 then
    local snap = redis.call('HGET', KEYS[2], 'offset')
    if snap and idcmp(snap, ARGV[1]) > 0 then return {{2}} end
    return {{1}}
  end
  start = '(' .. ARGV[1]
end
return {{0, redis.call('XRANGE', KEYS[1], start, '+', 'COUNT', ARGV[2])}}
"#
    ))
});

/// Stores a room's snapshot taken after the entry `offset`, unless a snapshot at or after it is
/// stored already (every node serving the room takes the same ones), and trims the log below the
/// previous snapshot: a node up to one snapshot interval behind still finds its offset, one
/// further behind loads the snapshot. KEYS: the snapshot hash, the log. ARGV: offset, data.
/// Returns 1 if stored.
pub static SNAPSHOT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        r#"{IDCMP}
local cur = redis.call('HGET', KEYS[1], 'offset')
if cur and idcmp(cur, ARGV[1]) >= 0 then return 0 end
redis.call('HSET', KEYS[1], 'offset', ARGV[1], 'data', ARGV[2])
if cur then redis.call('XTRIM', KEYS[2], 'MINID', cur) end
return 1
"#
    ))
});
