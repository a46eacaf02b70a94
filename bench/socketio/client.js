// Socket.IO side of the benchmark: the measuring clients. Every result is one JSON line on stdout;
// times are process.hrtime.bigint() readings (CLOCK_MONOTONIC, nanoseconds), so they compare with
// the Rust side's readings of the same clock.
//
//   node client.js login  URL N               connect (websocket only) + join with ack, N times
//   node client.js peer   URL N               A joins -> B receives user_add, N times
//   node client.js fanout URL MEMBERS TRIALS  one joins a room of MEMBERS -> all received user_add
//   node client.js load   URL COUNT LOCAL_ADDR ROOM_SIZE PREFIX   hold COUNT sockets until stdin ends
"use strict";
const { io } = require("socket.io-client");

const now = () => process.hrtime.bigint();
const out = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");
const fail = (msg) => {
  process.stderr.write(`socketio client: ${msg}\n`);
  process.exit(1);
};

function open(url, extra) {
  return io(url, { transports: ["websocket"], forceNew: true, reconnection: false, ...extra });
}

function connected(socket) {
  return new Promise((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("connect_error", (e) => reject(new Error(`connect: ${e.message}`)));
  });
}

function emitAck(socket, event, msg) {
  return new Promise((resolve) => socket.emit(event, msg, resolve));
}

function once(socket, event) {
  return new Promise((resolve) => socket.once(event, (arg) => resolve([now(), arg])));
}

async function login(url, n) {
  const samples = [];
  for (let i = 0; i < n; i++) {
    const t0 = now();
    const s = open(url);
    await connected(s);
    await emitAck(s, "join", { room: `login-${i}`, user: { user_id: `u${i}` } });
    samples.push(Number(now() - t0));
    s.disconnect();
  }
  out({ figure: "login", samples_ns: samples });
}

async function peer(url, n) {
  const a = open(url);
  const b = open(url);
  await Promise.all([connected(a), connected(b)]);
  await emitAck(b, "join", { room: "peer", user: { user_id: "b" } });
  const samples = [];
  for (let i = 0; i < n; i++) {
    const added = once(b, "user_add");
    const t0 = now();
    a.emit("join", { room: "peer", user: { user_id: "a" } }, () => {});
    const [t1] = await added;
    samples.push(Number(t1 - t0));
    const deleted = once(b, "user_delete");
    await emitAck(a, "leave", { room: "peer", user: { user_id: "a" } });
    await deleted;
  }
  a.disconnect();
  b.disconnect();
  out({ figure: "peer", samples_ns: samples });
}

// Connects `count` sockets, at most `parallel` handshakes at a time, and runs `each` on each.
async function openMany(url, count, parallel, extra, each) {
  const sockets = new Array(count);
  let next = 0;
  async function worker() {
    while (next < count) {
      const i = next++;
      const s = open(url, extra);
      await connected(s);
      await each(s, i);
      sockets[i] = s;
    }
  }
  await Promise.all(Array.from({ length: Math.min(parallel, count) }, worker));
  return sockets;
}

async function fanout(url, members, trials) {
  let pending = 0;
  let recv = [];
  let done = null;
  const onEvent = () => {
    recv.push(now());
    if (--pending === 0 && done) done();
  };
  const sockets = await openMany(url, members, 100, {}, async (s) => {
    s.on("user_add", onEvent);
    s.on("user_delete", onEvent);
    await emitAck(s, "member", { room: "fan" });
  });
  const joiner = open(url);
  await connected(joiner);
  const user = { user_id: "joiner", user_name: "Joiner" };
  for (let trial = 0; trial < trials; trial++) {
    pending = members;
    recv = [];
    const finished = new Promise((resolve) => (done = resolve));
    const t0 = now();
    joiner.emit("join", { room: "fan", user }, () => {});
    await finished;
    out({ trial, recv_ns: recv.map((t) => Number(t - t0)) });
    pending = members;
    recv = [];
    const left = new Promise((resolve) => (done = resolve));
    joiner.emit("leave", { room: "fan", user }, () => {});
    await left;
  }
  joiner.disconnect();
  sockets.forEach((s) => s.disconnect());
  out({ figure: "fanout", members, trials });
}

async function load(url, count, localAddress, roomSize, prefix) {
  const sockets = await openMany(url, count, 100, { localAddress }, async (s, i) => {
    const room = `${prefix}-${Math.floor(i / roomSize)}`;
    await emitAck(s, "join", { room, user: { user_id: `${prefix}-${i}` } });
  });
  out({ ready: count });
  process.stdin.on("end", () => {
    const alive = sockets.filter((s) => s.connected).length;
    out({ alive });
    process.exit(0);
  });
  process.stdin.resume();
}

const [mode, url, ...args] = process.argv.slice(2);
const int = (s, name) => {
  const v = Number.parseInt(s, 10);
  if (!Number.isFinite(v) || v < 0) fail(`bad ${name}: ${s}`);
  return v;
};
let run;
switch (mode) {
  case "login":
    run = login(url, int(args[0], "N"));
    break;
  case "peer":
    run = peer(url, int(args[0], "N"));
    break;
  case "fanout":
    run = fanout(url, int(args[0], "MEMBERS"), int(args[1], "TRIALS"));
    break;
  case "load":
    run = load(url, int(args[0], "COUNT"), args[1], int(args[2], "ROOM_SIZE"), args[3] || "load");
    break;
  default:
    fail(`unknown mode ${mode}`);
}
run.then(
  () => {
    if (mode !== "load") process.exit(0);
  },
  (e) => fail(e.stack || String(e)),
);
