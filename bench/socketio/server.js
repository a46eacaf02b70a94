// Socket.IO side of the benchmark: the room server.
//
// WebSocket transport only (no HTTP long-polling), so it compares with roomlink's one WebSocket.
// Prints one JSON line {"port":P} once listening, then serves until killed.
//   join  {room, user} + ack : joins the room, tells the room's other sockets `user_add`, acks
//   leave {room, user} + ack : leaves the room, tells the others `user_delete`, acks
//   member {room} + ack      : joins the room silently (builds the fan-out room without
//                              O(members²) broadcasts)
"use strict";
const http = require("http");
const { Server } = require("socket.io");

const httpServer = http.createServer();
const io = new Server(httpServer, { transports: ["websocket"], serveClient: false });

io.on("connection", (socket) => {
  socket.on("join", (msg, ack) => {
    socket.join(msg.room);
    socket.to(msg.room).emit("user_add", msg.user);
    if (typeof ack === "function") ack({ ok: true });
  });
  socket.on("leave", (msg, ack) => {
    socket.leave(msg.room);
    socket.to(msg.room).emit("user_delete", msg.user);
    if (typeof ack === "function") ack({ ok: true });
  });
  socket.on("member", (msg, ack) => {
    socket.join(msg.room);
    if (typeof ack === "function") ack({ ok: true });
  });
});

httpServer.listen(0, "127.0.0.1", () => {
  process.stdout.write(JSON.stringify({ port: httpServer.address().port, pid: process.pid }) + "\n");
});
process.stdin.on("end", () => process.exit(0)); // the bench closes stdin to stop us
process.stdin.resume();
