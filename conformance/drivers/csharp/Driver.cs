// The C# conformance driver: the Unity package (bindings/unity/Runtime, compiled in as-is) behind
// the driver protocol of conformance/README.md, shaped like the Rust reference driver
// (conformance/drivers/rust/src/main.rs). Events are written from the package's C# event
// handlers, and the protocol's hooks run in them, before the next event is taken.
// Delivery is the package's default, EventDelivery.MainThread: a frame loop of the driver's own
// (Unity's main thread's stand-in) calls MainThreadDispatcher.Drain every frame, and at once
// when the dispatcher is woken. ROOMLINK_CSHARP_DELIVERY=engine_thread (the csharp-enginethread
// driver) raises them on roomlink's event thread instead.

using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using System.Threading;

namespace Roomlink.Conformance
{
    using JObject = Dictionary<string, object>;

    internal sealed class CommandException : Exception
    {
        internal CommandException(string message) : base(message) { }
    }

    /// <summary>A one-shot in_callback hook: run Then inside the callback of the next event
    /// matching When.</summary>
    internal sealed class Hook
    {
        internal object Id;
        internal JObject When;
        internal JObject Then;
    }

    internal sealed class Driver
    {
        readonly object outGate = new object();
        readonly Stream stdout = Console.OpenStandardOutput();
        readonly UTF8Encoding utf8 = new UTF8Encoding(false);
        readonly EventDelivery delivery;
        readonly string name;

        readonly object gate = new object(); // engines, destroyed
        readonly Dictionary<string, RoomlinkEngine> engines = new Dictionary<string, RoomlinkEngine>();
        // Clients whose engine was destroyed: exit must not destroy them again.
        readonly HashSet<string> destroyed = new HashSet<string>();
        // Per client, oldest armed first.
        readonly object hookGate = new object();
        readonly Dictionary<string, List<Hook>> hooks = new Dictionary<string, List<Hook>>();

        Driver(EventDelivery delivery, string name)
        {
            this.delivery = delivery;
            this.name = name;
        }

        void Print(JObject line)
        {
            byte[] bytes = utf8.GetBytes(Json.Write(line) + "\n");
            // One lock for the whole line: lines from the event threads never interleave.
            lock (outGate)
            {
                try
                {
                    stdout.Write(bytes, 0, bytes.Length);
                    stdout.Flush();
                }
                catch (IOException)
                {
                    // Nobody to tell if stdout is gone: the orchestrator has already failed the run.
                }
            }
        }

        static JObject Code(int code)
        {
            return new JObject { { "code", (long)code } };
        }

        static string Str(JObject cmd, string key)
        {
            object v;
            if (!cmd.TryGetValue(key, out v) || !(v is string))
            {
                throw new CommandException("missing string \"" + key + "\"");
            }
            return (string)v;
        }

        static bool Bool(JObject cmd, string key)
        {
            object v;
            if (!cmd.TryGetValue(key, out v) || !(v is bool))
            {
                throw new CommandException("missing bool \"" + key + "\"");
            }
            return (bool)v;
        }

        static ulong Ms(JObject config, string key)
        {
            object v;
            if (!config.TryGetValue(key, out v) || !(v is long) || (long)v < 0)
            {
                throw new CommandException("missing integer config." + key);
            }
            return (ulong)(long)v;
        }

        static JObject Obj(JObject cmd, string key)
        {
            object v;
            if (!cmd.TryGetValue(key, out v) || !(v is JObject))
            {
                throw new CommandException("missing object \"" + key + "\"");
            }
            return (JObject)v;
        }

        RoomlinkEngine Engine(string client)
        {
            lock (gate)
            {
                RoomlinkEngine engine;
                if (!engines.TryGetValue(client, out engine))
                {
                    throw new CommandException("no client");
                }
                return engine;
            }
        }

        JObject Create(string client, JObject config)
        {
            lock (gate)
            {
                if (engines.ContainsKey(client))
                {
                    throw new CommandException("client \"" + client + "\" exists");
                }
            }
            RoomMode mode;
            switch (Str(config, "room_mode"))
            {
                case "single_room": mode = RoomMode.SingleRoom; break;
                case "multi_room": mode = RoomMode.MultiRoom; break;
                default: throw new CommandException("unknown room_mode \"" + Str(config, "room_mode") + "\"");
            }
            var settings = new RoomlinkEngineConfig(Str(config, "server_url"))
            {
                RoomMode = mode,
                HeartbeatIntervalMs = Ms(config, "heartbeat_interval_ms"),
                PingTimeoutMs = Ms(config, "ping_timeout_ms"),
                LoginTimeoutMs = Ms(config, "login_timeout_ms"),
                RetryWindowMs = Ms(config, "retry_window_ms"),
                BackoffBaseMs = Ms(config, "backoff_base_ms"),
                BackoffCapMs = Ms(config, "backoff_cap_ms"),
                TokenWarningMs = Ms(config, "token_warning_ms"),
            };
            // Optional: further URLs (cluster-only scenarios) and a CA to pin (wss:// scenarios).
            if (config.ContainsKey("more_server_urls"))
            {
                var urls = config["more_server_urls"] as List<object>;
                if (urls == null)
                {
                    throw new CommandException("config.more_server_urls must be an array");
                }
                var more = new string[urls.Count];
                for (int i = 0; i < more.Length; i++)
                {
                    more[i] = urls[i] as string;
                    if (more[i] == null)
                    {
                        throw new CommandException("config.more_server_urls: not a string");
                    }
                }
                settings.MoreServerUrls = more;
            }
            if (config.ContainsKey("tls_ca_pem"))
            {
                settings.TlsCaPem = Encoding.UTF8.GetBytes(Str(config, "tls_ca_pem"));
            }
            RoomlinkEngine engine;
            try
            {
                engine = new RoomlinkEngine(settings, delivery);
            }
            catch (RoomlinkException e)
            {
                return Code(e.Code);
            }
            Subscribe(client, engine);
            lock (gate)
            {
                engines[client] = engine;
            }
            return Code(0);
        }

        // The spec's event lines (ordinals as numbers), written from the package's C# events.
        void Subscribe(string client, RoomlinkEngine engine)
        {
            engine.OnRoomStateChanged += (room, reason, code, data) =>
            {
                var x = new JObject();
                foreach (var kv in data)
                {
                    x[kv.Key] = kv.Value;
                }
                OnEvent(client, Line(client, "room_state_changed", room, "reason", (long)reason,
                    "code", (long)code, "extended_data", x));
            };
            engine.OnRoomUserUpdate += (room, update, users) =>
            {
                var list = users.Select(u => (object)new JObject
                {
                    { "user_id", u.UserId }, { "user_name", u.UserName },
                }).ToList();
                OnEvent(client, Line(client, "room_user_update", room, "update", (long)update, "users", list));
            };
            engine.OnRoomOnlineUserCountUpdate += (room, count) =>
                OnEvent(client, Line(client, "room_online_user_count_update", room, "count", (long)count));
            engine.OnRoomStreamUpdate += (room, update, streams, reason) =>
            {
                var list = streams.Select(s => (object)new JObject
                {
                    { "user_id", s.User.UserId }, { "stream_id", s.StreamId }, { "extra_info", s.ExtraInfo },
                }).ToList();
                object why = reason.HasValue ? (object)(long)reason.Value : null;
                OnEvent(client, Line(client, "room_stream_update", room, "update", (long)update,
                    "streams", list, "reason", why));
            };
            engine.OnRoomTokenWillExpire += (room, seconds) =>
                OnEvent(client, Line(client, "room_token_will_expire", room, "remaining_seconds", (long)seconds));
        }

        static JObject Line(string client, string name, string room, params object[] fields)
        {
            var line = new JObject { { "client", client }, { "event", name }, { "room", room } };
            for (int i = 0; i < fields.Length; i += 2)
            {
                line[(string)fields[i]] = fields[i + 1];
            }
            return line;
        }

        /// <summary>The spec's pattern match: every key of when equals the event's, except
        /// users/streams, which compare the sorted IDs.</summary>
        static bool Matches(JObject when, JObject line)
        {
            foreach (var kv in when)
            {
                object actual;
                line.TryGetValue(kv.Key, out actual);
                string idKey = kv.Key == "users" ? "user_id" : kv.Key == "streams" ? "stream_id" : null;
                if (idKey == null)
                {
                    if (!Json.Equal(actual, kv.Value))
                    {
                        return false;
                    }
                    continue;
                }
                var items = actual as List<object>;
                if (items == null)
                {
                    return false;
                }
                var ids = items.Select(x => (object)(string)((JObject)x)[idKey])
                    .OrderBy(id => (string)id, StringComparer.Ordinal).ToList();
                if (!Json.Equal(ids, kv.Value))
                {
                    return false;
                }
            }
            return true;
        }

        /// <summary>Runs where the package raises the event: print it, then fire a matching hook
        /// in place.</summary>
        void OnEvent(string client, JObject line)
        {
            Hook hook = null;
            // Choosing the hook and printing the line under one lock: a hook armed after this
            // event's line was printed never fires on it.
            lock (hookGate)
            {
                List<Hook> list;
                if (hooks.TryGetValue(client, out list))
                {
                    int at = list.FindIndex(h => Matches(h.When, line));
                    if (at >= 0)
                    {
                        hook = list[at];
                        list.RemoveAt(at);
                    }
                }
                Print(line);
            }
            if (hook == null)
            {
                return;
            }
            JObject result;
            try
            {
                result = Call(client, hook.Then);
            }
            catch (CommandException e)
            {
                result = new JObject { { "code", -1L }, { "error", e.Message } };
            }
            result["hook"] = hook.Id;
            result["cmd"] = hook.Then.ContainsKey("cmd") ? hook.Then["cmd"] : null;
            Print(new JObject { { "client", client }, { "callback_result", result } });
        }

        /// <summary>One engine call (a command, or a hook's then); the reply without id.</summary>
        JObject Call(string client, JObject cmd)
        {
            string name = Str(cmd, "cmd");
            RoomlinkEngine engine = Engine(client);
            try
            {
                switch (name)
                {
                    case "destroy":
                        // Marked first: exit must never destroy it again, even while this runs.
                        lock (gate)
                        {
                            destroyed.Add(client);
                        }
                        engine.Dispose(); // the handle stays: later calls must return 1900005
                        break;
                    case "login":
                        var user = new RoomlinkUser(Str(cmd, "user_id"), Str(cmd, "user_name"));
                        var room = new RoomlinkRoomConfig { UserUpdate = Bool(cmd, "user_update") };
                        engine.LoginRoom(Str(cmd, "room"), user, Str(cmd, "token"), room);
                        break;
                    case "logout":
                        engine.LogoutRoom(Str(cmd, "room"));
                        break;
                    case "switch_room":
                        engine.SwitchRoom(Str(cmd, "from"), Str(cmd, "to"), Str(cmd, "token"));
                        break;
                    case "renew_token":
                        engine.RenewToken(Str(cmd, "room"), Str(cmd, "token"));
                        break;
                    case "network":
                        engine.NotifyNetworkChanged(Bool(cmd, "available"));
                        break;
                    case "app":
                        switch (Str(cmd, "state"))
                        {
                            case "background": engine.NotifyAppBackground(); break;
                            case "foreground": engine.NotifyAppForeground(); break;
                            default: throw new CommandException("unknown app state \"" + Str(cmd, "state") + "\"");
                        }
                        break;
                    case "room_state":
                        var state = engine.GetRoomState(Str(cmd, "room"));
                        return new JObject { { "code", 0L }, { "state", (long)state } };
                    case "publish_stream":
                        engine.PublishStream(Str(cmd, "room"), Str(cmd, "stream_id"), Str(cmd, "extra_info"));
                        break;
                    case "unpublish_stream":
                        engine.UnpublishStream(Str(cmd, "room"), Str(cmd, "stream_id"));
                        break;
                    default:
                        throw new CommandException("unknown cmd \"" + name + "\"");
                }
            }
            catch (RoomlinkException e)
            {
                return Code(e.Code);
            }
            return Code(0);
        }

        /// <summary>One stdin command; the reply without id.</summary>
        JObject Command(JObject cmd)
        {
            string client = Str(cmd, "client");
            switch (Str(cmd, "cmd"))
            {
                case "create":
                    return Create(client, Obj(cmd, "config"));
                case "in_callback":
                    var when = Obj(cmd, "when");
                    var then = Obj(cmd, "then");
                    Str(then, "cmd");
                    Engine(client);
                    lock (hookGate)
                    {
                        List<Hook> list;
                        if (!hooks.TryGetValue(client, out list))
                        {
                            hooks[client] = list = new List<Hook>();
                        }
                        list.Add(new Hook { Id = cmd["id"], When = when, Then = then });
                    }
                    return Code(0);
                default:
                    return Call(client, cmd);
            }
        }

        /// <summary>Destroys every engine not destroyed yet (exit, or stdin closed), then stops
        /// the frame loop and raises the engines' last events (their Logouts).</summary>
        void ReleaseAll(FrameLoop frames)
        {
            List<RoomlinkEngine> live;
            lock (gate)
            {
                live = engines.Where(kv => !destroyed.Contains(kv.Key)).Select(kv => kv.Value).ToList();
                engines.Clear();
            }
            foreach (var engine in live)
            {
                try
                {
                    engine.Dispose();
                }
                catch (RoomlinkException e)
                {
                    Console.Error.WriteLine("exit: destroy failed: " + e.Message);
                }
            }
            if (frames == null)
            {
                return; // EngineThread: Dispose returned after the engine's last callback
            }
            frames.Stop();
            // Every destroy has returned (none ran inside a roomlink callback: hooks run on the
            // frame loop), so each engine's last events are in its queue, followed by its end.
            MainThreadDispatcher.Drain();
            if (MainThreadDispatcher.Engines != 0)
            {
                Console.Error.WriteLine("exit: " + MainThreadDispatcher.Engines
                    + " engines not at their end after the last drain");
            }
        }

        void Serve(TextReader stdin, FrameLoop frames)
        {
            Print(new JObject { { "ready", true }, { "driver", name } });
            string text;
            while ((text = stdin.ReadLine()) != null)
            {
                JObject cmd;
                try
                {
                    cmd = Json.Parse(text) as JObject;
                    if (cmd == null)
                    {
                        throw new JsonException("not an object");
                    }
                }
                catch (JsonException e)
                {
                    Print(new JObject { { "id", null }, { "code", -1L }, { "error", "bad JSON: " + e.Message } });
                    continue;
                }
                object id;
                cmd.TryGetValue("id", out id);
                object name;
                if (cmd.TryGetValue("cmd", out name) && "exit".Equals(name))
                {
                    ReleaseAll(frames);
                    Print(new JObject { { "id", id }, { "code", 0L } });
                    return;
                }
                JObject reply;
                try
                {
                    reply = Command(cmd);
                }
                catch (CommandException e)
                {
                    reply = new JObject { { "code", -1L }, { "error", e.Message } };
                }
                reply["id"] = id;
                Print(reply);
            }
            ReleaseAll(frames); // stdin closed: leave no engine running while the process ends
        }

        static int Main()
        {
            var mode = Environment.GetEnvironmentVariable("ROOMLINK_CSHARP_DELIVERY") ?? "main_thread";
            EventDelivery delivery;
            string name;
            switch (mode)
            {
                case "main_thread": delivery = EventDelivery.MainThread; name = "csharp"; break;
                case "engine_thread": delivery = EventDelivery.EngineThread; name = "csharp-enginethread"; break;
                default:
                    Console.Error.WriteLine("ROOMLINK_CSHARP_DELIVERY must be main_thread or engine_thread, got " + mode);
                    return 2;
            }
            RoomlinkLog.Enable(RoomlinkLogLevel.Info); // to stderr, which the orchestrator keeps
            FrameLoop frames = delivery == EventDelivery.MainThread ? FrameLoop.Start() : null;
            var stdin = new StreamReader(Console.OpenStandardInput(), new UTF8Encoding(false));
            new Driver(delivery, name).Serve(stdin, frames);
            RoomlinkLog.Disable();
            return 0;
        }
    }

    /// <summary>Unity's main thread's stand-in: a thread that calls the per-frame drain once per
    /// 16 ms frame, and at once when the dispatcher is woken (an engine's event-ready callback, a
    /// Dispose), so the trace does not depend on where in a frame an event arrived.</summary>
    internal sealed class FrameLoop
    {
        const int FrameMs = 16;
        readonly Thread thread;
        volatile bool stopping;

        FrameLoop()
        {
            thread = new Thread(Run) { IsBackground = true, Name = "main thread (frame loop)" };
        }

        internal static FrameLoop Start()
        {
            var frames = new FrameLoop();
            frames.thread.Start();
            return frames;
        }

        void Run()
        {
            while (!stopping)
            {
                MainThreadDispatcher.WaitForWork(FrameMs);
                MainThreadDispatcher.Drain();
            }
        }

        /// <summary>Returns after the frame running now (at most one frame's wait and its drain).</summary>
        internal void Stop()
        {
            stopping = true;
            thread.Join();
        }
    }
}
