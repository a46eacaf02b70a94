// The package's own tests, for what the conformance kit does not reach: the main-thread drain,
// Dispose's rules, the GCHandle's release, the config struct's layout, string marshalling and
// log forwarding. Compiled with the Runtime sources (internals visible) by run.sh, run with mono
// against libroomlink_ffi. No server: an engine pointed at a closed port still reports Logining
// and Logout. Unity ignores this folder (its name ends with ~).

using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Runtime.InteropServices;
using System.Text;
using System.Threading;

namespace Roomlink.Tests
{
    internal static class PackageTests
    {
        // Port 1 on loopback: nothing listens there, so a login keeps Logining until logged out.
        const string Unreachable = "ws://127.0.0.1:1/v1/ws";
        static readonly RoomlinkUser Alice = new RoomlinkUser("alice", "Alice");

        static void Assert(bool condition, string what)
        {
            if (!condition)
            {
                throw new Exception("assertion failed: " + what);
            }
        }

        static void Equal<T>(T expected, T actual, string what)
        {
            if (!EqualityComparer<T>.Default.Equals(expected, actual))
            {
                throw new Exception(what + ": expected " + expected + ", got " + actual);
            }
        }

        static RoomlinkException Throws(Action action, string what)
        {
            try
            {
                action();
            }
            catch (RoomlinkException e)
            {
                return e;
            }
            throw new Exception(what + ": no RoomlinkException");
        }

        /// <summary>Drains the main-thread queue on this thread until <paramref name="done"/> or
        /// 5 s (waiting for work, never spinning).</summary>
        static void DrainUntil(Func<bool> done, string what)
        {
            var deadline = DateTime.UtcNow.AddSeconds(5);
            while (!done())
            {
                int left = (int)(deadline - DateTime.UtcNow).TotalMilliseconds;
                if (left <= 0)
                {
                    throw new Exception("timed out waiting for " + what);
                }
                if (MainThreadDispatcher.WaitForWork(left))
                {
                    MainThreadDispatcher.Drain();
                }
            }
        }

        static RoomlinkEngineConfig Config()
        {
            return new RoomlinkEngineConfig(Unreachable) { LoginTimeoutMs = 60000 };
        }

        // The defaults read back through the struct: a layout mistake in Native.EngineConfig
        // would scramble them.
        static void ConfigDefaultsComeFromTheLibrary()
        {
            var c = new RoomlinkEngineConfig("ws://h/v1/ws");
            Equal("ws://h/v1/ws", c.ServerUrl, "url");
            Equal(RoomMode.SingleRoom, c.RoomMode, "room mode");
            Equal(10000UL, c.HeartbeatIntervalMs, "heartbeat");
            Equal(25000UL, c.PingTimeoutMs, "ping timeout");
            Equal(30000UL, c.LoginTimeoutMs, "login timeout");
            Equal(1200000UL, c.RetryWindowMs, "retry window");
            Equal(300UL, c.BackoffBaseMs, "backoff base");
            Equal(8000UL, c.BackoffCapMs, "backoff cap");
            Equal(30000UL, c.TokenWarningMs, "token warning");
            Equal(65536UL, c.MaxFrameBytes, "max frame");
            Equal(0, c.MoreServerUrls.Length, "more server URLs");
            Equal(true, c.ProxyUrl == null, "no proxy by default");
        }

        // The proxy URL reaches the library: a malformed one is refused when the engine is made.
        static void ProxyUrlIsChecked()
        {
            var bad = new RoomlinkEngineConfig(Unreachable) { ProxyUrl = "socks5://127.0.0.1:1080" };
            Equal(1900004, Throws(() => new RoomlinkEngine(bad), "socks proxy").Code, "bad proxy code");
            var good = new RoomlinkEngineConfig(Unreachable) { ProxyUrl = "http://u:p@127.0.0.1:3128" };
            new RoomlinkEngine(good).Dispose();
        }

        // A pinned CA bundle reaches the library with its length: one without a certificate is
        // refused when the engine is made, a real CA certificate is taken.
        static void TlsCaPemIsChecked()
        {
            var empty = new RoomlinkEngineConfig(Unreachable) { TlsCaPem = new byte[0] };
            Equal(1900004, Throws(() => new RoomlinkEngine(empty), "empty PEM").Code, "empty PEM code");
            var junk = new RoomlinkEngineConfig(Unreachable) { TlsCaPem = Encoding.UTF8.GetBytes("no certificate") };
            Equal(1900004, Throws(() => new RoomlinkEngine(junk), "junk PEM").Code, "junk PEM code");
            // A self-signed P-256 CA made for this test (openssl req -x509), only parsed here.
            string ca = ""
            + "-----BEGIN CERTIFICATE-----\n"
            + "MIIBmjCCAT+gAwIBAgIUW1Y5D8dFNX7XL4tSGCROEa3/LuUwCgYIKoZIzj0EAwIw\n"
            + "ITEfMB0GA1UEAwwWcm9vbWxpbmsgdW5pdHkgdGVzdCBDQTAgFw0yNjEyMDIxMzM3\n"
            + "NDBaGA8yMTI2MTEwODEzMzc0MFowITEfMB0GA1UEAwwWcm9vbWxpbmsgdW5pdHkg\n"
            + "dGVzdCBDQTBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABFIWL46MLkpNz/lV1+pq\n"
            + "I8U3hL06J+1PGFu5PEYRE5Go4AzvCYI23k/q08kRCm3kQG4LYLkJErVJ6raMR5eA\n"
            + "Hx+jUzBRMB0GA1UdDgQWBBQYyuJ6UKU8kT5x6E8Zlv6Dnzf/ezAfBgNVHSMEGDAW\n"
            + "gBQYyuJ6UKU8kT5x6E8Zlv6Dnzf/ezAPBgNVHRMBAf8EBTADAQH/MAoGCCqGSM49\n"
            + "BAMCA0kAMEYCIQC0EaXbRr+LtqTSI84beLWJ0CKA/rkC8yN+lsmind5uqgIhAOiH\n"
            + "nyuJJa2xOKC01LxobxC+P6pyrtMaul77V4muO9fg\n"
            + "-----END CERTIFICATE-----\n";
            var good = new RoomlinkEngineConfig(Unreachable) { TlsCaPem = Encoding.UTF8.GetBytes(ca) };
            new RoomlinkEngine(good).Dispose();
            // Its length is what counts: the same certificate cut short is refused.
            var cut = Encoding.UTF8.GetBytes(ca.Substring(0, ca.Length / 2));
            var shortPem = new RoomlinkEngineConfig(Unreachable) { TlsCaPem = cut };
            Equal(1900004, Throws(() => new RoomlinkEngine(shortPem), "cut PEM").Code, "cut PEM code");
        }

        // The further URLs reach the library: a bad one is refused as the first URL would be.
        static void MoreServerUrlsAreChecked()
        {
            var bad = new RoomlinkEngineConfig(Unreachable) { MoreServerUrls = new[] { Unreachable, "http://x/" } };
            Equal(1900004, Throws(() => new RoomlinkEngine(bad), "http URL").Code, "bad URL code");
            var nul = new RoomlinkEngineConfig(Unreachable) { MoreServerUrls = new string[] { null } };
            Equal(1900101, Throws(() => new RoomlinkEngine(nul), "null URL").Code, "null URL code");
            var good = new RoomlinkEngineConfig(Unreachable) { MoreServerUrls = new[] { Unreachable } };
            new RoomlinkEngine(good).Dispose();
        }

        static void BadConfigIsRefusedWithItsCode()
        {
            var c = new RoomlinkEngineConfig(Unreachable) { PingTimeoutMs = 5000, HeartbeatIntervalMs = 5000 };
            var e = Throws(() => new RoomlinkEngine(c), "ping timeout not above heartbeat");
            Equal(1900004, e.Code, "code");
            Equal("INVALID_ARGUMENT", e.Name, "name");
            Assert(e.Message.StartsWith("1900004 INVALID_ARGUMENT: "), "message: " + e.Message);
            var n = Throws(() => new RoomlinkEngine(new RoomlinkEngineConfig(null)), "null URL");
            Equal(1900101, n.Code, "null URL code");
        }

        static void MainThreadDeliveryWaitsForDrain()
        {
            int mainThread = Thread.CurrentThread.ManagedThreadId;
            var seen = new List<RoomStateChangedReason>();
            var threads = new List<int>();
            using (var engine = new RoomlinkEngine(Config()))
            {
                engine.OnRoomStateChanged += (room, reason, code, data) =>
                {
                    seen.Add(reason);
                    threads.Add(Thread.CurrentThread.ManagedThreadId);
                };
                engine.LoginRoom("r1", Alice, "token");
                Assert(MainThreadDispatcher.WaitForWork(5000), "Logining queued");
                Equal(0, seen.Count, "nothing raised before Drain");
                DrainUntil(() => seen.Count == 1, "Logining");
                engine.LogoutRoom("r1");
                DrainUntil(() => seen.Count == 2, "Logout");
            }
            // Disposed: one more drain takes the engine's end, and it is never polled again.
            DrainUntil(() => MainThreadDispatcher.Engines == 0, "the disposed engine's end");
            Equal(2, seen.Count, "no event after the end");
            Equal(RoomStateChangedReason.Logining, seen[0], "first");
            Equal(RoomStateChangedReason.Logout, seen[1], "second");
            Assert(threads.TrueForAll(t => t == mainThread), "raised on the draining thread");
        }

        static void EngineThreadDeliveryRaisesAtOnce()
        {
            int testThread = Thread.CurrentThread.ManagedThreadId;
            var seen = new List<RoomStateChangedReason>();
            int handlerThread = testThread;
            var logout = new ManualResetEvent(false);
            using (var engine = new RoomlinkEngine(Config(), EventDelivery.EngineThread))
            {
                engine.OnRoomStateChanged += (room, reason, code, data) =>
                {
                    lock (seen)
                    {
                        seen.Add(reason);
                    }
                    handlerThread = Thread.CurrentThread.ManagedThreadId;
                    if (reason == RoomStateChangedReason.Logining)
                    {
                        throw new InvalidOperationException("a handler's bug (expected by the test)");
                    }
                    if (reason == RoomStateChangedReason.Logout)
                    {
                        logout.Set();
                    }
                };
                engine.LoginRoom("r1", Alice, "token");
                engine.LogoutRoom("r1");
                Assert(logout.WaitOne(5000), "Logout raised after a handler threw");
                Equal(0, MainThreadDispatcher.Engines, "nothing for the main thread to drain");
            }
            Assert(handlerThread != testThread, "raised on roomlink's thread");
            lock (seen)
            {
                Equal(2, seen.Count, "events");
            }
        }

        static RoomlinkEngineConfig MultiRoom()
        {
            var c = Config();
            c.RoomMode = RoomMode.MultiRoom;
            return c;
        }

        // Three rooms' Logining events wait in the engine's queue; Drain(1) takes one at a time,
        // and a throwing handler stops neither its drain nor the next.
        static void DrainTakesOneAtATimeDespiteAThrow()
        {
            var ran = new List<string>();
            using (var engine = new RoomlinkEngine(MultiRoom()))
            {
                engine.OnRoomStateChanged += (room, reason, code, data) =>
                {
                    ran.Add(room);
                    if (room == "r2")
                    {
                        throw new InvalidOperationException("a handler's bug (expected by the test)");
                    }
                };
                engine.LoginRoom("r1", Alice, "t");
                engine.LoginRoom("r2", Alice, "t");
                engine.LoginRoom("r3", Alice, "t");
                Assert(MainThreadDispatcher.WaitForWork(5000), "Logining queued");
                Equal(0, MainThreadDispatcher.Drain(0), "a limit of 0 takes nothing");
                Equal(0, ran.Count, "nothing raised");
                var deadline = DateTime.UtcNow.AddSeconds(5);
                while (ran.Count < 3 && DateTime.UtcNow < deadline)
                {
                    int before = ran.Count;
                    if (MainThreadDispatcher.WaitForWork(5000))
                    {
                        int raised = MainThreadDispatcher.Drain(1);
                        Assert(raised <= 1, "at most the limit");
                        Equal(before + raised, ran.Count, "raised = handlers run");
                    }
                }
                Equal("r1,r2,r3", string.Join(",", ran.ToArray()), "in order, past the throw");
            }
            DrainUntil(() => MainThreadDispatcher.Engines == 0, "the disposed engine's end");
            Equal(6, ran.Count, "the three Logouts of Dispose");
            Equal(0, MainThreadDispatcher.Drain(), "nothing left");
            var start = DateTime.UtcNow;
            Assert(!MainThreadDispatcher.WaitForWork(50), "no work");
            Assert(DateTime.UtcNow - start >= TimeSpan.FromMilliseconds(40), "waited for the timeout");
        }

        // A handler's calls act before the next event is taken: Dispose from the Logining handler
        // logs out while the other rooms' events still wait, and the same drain then raises them
        // and the Logouts in the engine's order; a Drain inside a handler takes nothing.
        static void MainThreadHandlerActsBeforeTheNextEvent()
        {
            var seen = new List<string>();
            int nested = -1;
            var engine = new RoomlinkEngine(MultiRoom());
            engine.OnRoomStateChanged += (room, reason, code, data) =>
            {
                seen.Add(room + " " + reason);
                if (room == "r1" && reason == RoomStateChangedReason.Logining)
                {
                    nested = MainThreadDispatcher.Drain();
                    engine.Dispose();
                    Equal(ConnectionState.Disconnected, engine.GetRoomState("r2"), "logged out at once");
                }
            };
            engine.LoginRoom("r1", Alice, "t");
            engine.LoginRoom("r2", Alice, "t");
            DrainUntil(() => MainThreadDispatcher.Engines == 0, "the disposed engine's end");
            Equal(0, nested, "Drain inside a handler");
            Assert(engine.IsDisposed, "disposed");
            Equal("r1 Logining,r2 Logining,r1 Logout,r2 Logout", string.Join(",", seen.ToArray()), "events");
            Equal(0, MainThreadDispatcher.Drain(), "never polled after its end");
        }

        // Leaving play mode: what a disposed engine's queue still holds is freed, not raised.
        static void ClearFreesWithoutRaising()
        {
            int raised = 0;
            var engine = new RoomlinkEngine(Config());
            engine.OnRoomStateChanged += (room, reason, code, data) => raised++;
            engine.LoginRoom("r1", Alice, "t");
            engine.Dispose();
            Equal(1, MainThreadDispatcher.Engines, "held until its end");
            MainThreadDispatcher.Clear();
            Equal(0, MainThreadDispatcher.Engines, "forgotten");
            Equal(0, MainThreadDispatcher.Drain(), "nothing raised later");
            Equal(0, raised, "not raised");
        }

        static void DisposeIsOnceAndLaterCallsSay1900005()
        {
            var engine = new RoomlinkEngine(Config(), EventDelivery.EngineThread);
            Assert(!engine.IsDisposed, "fresh");
            engine.Dispose();
            Assert(engine.IsDisposed, "disposed");
            engine.Dispose(); // IDisposable: a second Dispose does nothing
            Equal(1900005, Throws(() => engine.LoginRoom("r1", Alice, "t"), "login").Code, "login");
            Equal(1900005, Throws(() => engine.LogoutRoom("r1"), "logout").Code, "logout");
            Equal(1900005, Throws(() => engine.PublishStream("r1", "s1"), "publish").Code, "publish");
            Equal(ConnectionState.Disconnected, engine.GetRoomState("r1"), "state after dispose");
            engine.NotifyNetworkChanged(true); // ignored once destroyed, as in core
            engine.NotifyAppBackground();
            engine.NotifyAppForeground();
        }

        // What OnApplicationPause does in Unity: every live engine gets the hint, disposed ones
        // are left alone. The direct calls prove the native entry points resolve with these
        // signatures (NotifyAllAppPaused guards each engine, so it would only log a failure).
        // What the hints do is the core's, run by the conformance scenario app_lifecycle_hints.
        static void AppPauseReachesEveryLiveEngine()
        {
            var a = new RoomlinkEngine(Config(), EventDelivery.EngineThread);
            var b = new RoomlinkEngine(Config(), EventDelivery.MainThread);
            var gone = new RoomlinkEngine(Config(), EventDelivery.EngineThread);
            gone.Dispose();
            try
            {
                a.NotifyAppBackground();
                b.NotifyAppForeground();
                RoomlinkEngine.NotifyAllAppPaused(true);
                RoomlinkEngine.NotifyAllAppPaused(false);
            }
            finally
            {
                a.Dispose();
                b.Dispose();
                MainThreadDispatcher.Clear();
            }
        }

        // The engine's user_data is a GCHandle that keeps it alive while native code may call
        // it: held from create to on_released (Dispose), freed exactly once, never held after a
        // failed create. (Counted, not observed through the GC: Mono's conservative stack
        // scanning makes "was it collected" unreliable.)
        static void GcHandleIsHeldUntilReleased()
        {
            int before = RoomlinkEngine.HandlesHeld;
            var engine = new RoomlinkEngine(Config(), EventDelivery.EngineThread);
            Equal(before + 1, RoomlinkEngine.HandlesHeld, "held by a live engine");
            engine.Dispose();
            Equal(before, RoomlinkEngine.HandlesHeld, "freed when Dispose returns");
            engine.Dispose();
            Equal(before, RoomlinkEngine.HandlesHeld, "freed once");
            var bad = new RoomlinkEngineConfig(Unreachable) { BackoffCapMs = 1, BackoffBaseMs = 2 };
            Throws(() => new RoomlinkEngine(bad), "cap below base");
            Equal(before, RoomlinkEngine.HandlesHeld, "not held after a failed create");
        }

        // Dispose from inside the engine's own handler returns before the engine's last events
        // are delivered: the handle must survive until on_released, after them.
        static void DisposeInsideAHandler()
        {
            int before = RoomlinkEngine.HandlesHeld;
            var seen = new List<RoomStateChangedReason>();
            var done = new ManualResetEvent(false);
            var engine = new RoomlinkEngine(Config(), EventDelivery.EngineThread);
            engine.OnRoomStateChanged += (room, reason, code, data) =>
            {
                lock (seen)
                {
                    seen.Add(reason);
                }
                if (reason == RoomStateChangedReason.Logining)
                {
                    engine.Dispose();
                }
                if (reason == RoomStateChangedReason.Logout)
                {
                    done.Set();
                }
            };
            engine.LoginRoom("r1", Alice, "t");
            Assert(done.WaitOne(5000), "Logout after Dispose in a handler");
            // on_released runs right after the Logout handler returns, on the engine's thread.
            Assert(RoomlinkEngine.WaitHandlesHeld(before, 5000), "released after the last event");
            Assert(engine.IsDisposed, "disposed");
            lock (seen)
            {
                Equal("Logining,Logout", string.Join(",", seen.ConvertAll(r => r.ToString()).ToArray()), "events");
            }
        }

        static void BadStringsAreRefusedAndChangeNothing()
        {
            using (var engine = new RoomlinkEngine(Config(), EventDelivery.EngineThread))
            {
                int events = 0;
                engine.OnRoomStateChanged += (room, reason, code, data) => Interlocked.Increment(ref events);
                try
                {
                    engine.LoginRoom("r1\0x", Alice, "t");
                    throw new Exception("NUL accepted");
                }
                catch (ArgumentException e)
                {
                    Equal("roomId", e.ParamName, "parameter");
                }
                try
                {
                    engine.LoginRoom("r1", new RoomlinkUser("alice", "A\ud800"), "t");
                    throw new Exception("lone surrogate accepted");
                }
                catch (ArgumentException e)
                {
                    Equal("user.UserName", e.ParamName, "parameter");
                }
                Equal(1900101, Throws(() => engine.LogoutRoom(null), "null room").Code, "null room");
                Equal(ConnectionState.Disconnected, engine.GetRoomState("r1"), "no login happened");
                Equal(1002011, Throws(() => engine.LoginRoom("", Alice, "t"), "empty room").Code, "empty room");
            }
        }

        static void Utf8RoundTrips()
        {
            const string text = "Zoë 😀 日本";
            byte[] bytes = Utf8.Encode(text, "text");
            Equal(0, (int)bytes[bytes.Length - 1], "NUL-terminated");
            Equal(Encoding.UTF8.GetByteCount(text) + 1, bytes.Length, "length");
            var pin = GCHandle.Alloc(bytes, GCHandleType.Pinned);
            try
            {
                Equal(text, Utf8.Decode(pin.AddrOfPinnedObject()), "decoded");
            }
            finally
            {
                pin.Free();
            }
            Equal("", Utf8.Decode(IntPtr.Zero), "NULL");
            Equal(null, Utf8.Encode(null, "x"), "null stays null");
        }

        static void LogRecordsReachTheHostLogger()
        {
            var captured = new StringWriter();
            var previous = Console.Error;
            Console.SetError(captured);
            try
            {
                RoomlinkLog.Enable(RoomlinkLogLevel.Info);
                using (var engine = new RoomlinkEngine(Config(), EventDelivery.EngineThread))
                {
                    engine.LoginRoom("logged-room", Alice, "t");
                    engine.LogoutRoom("logged-room");
                }
                RoomlinkLog.Disable();
                // Records are written on roomlink's threads; Disable returned after the last one.
                string text = captured.ToString();
                Assert(text.Contains("[roomlink INFO roomlink::machine] room logged-room"), "a login record: " + text);
                int before = text.Length;
                using (var engine = new RoomlinkEngine(Config(), EventDelivery.EngineThread))
                {
                    engine.LoginRoom("quiet-room", Alice, "t");
                }
                Equal(before, captured.ToString().Length, "nothing after Disable");
            }
            finally
            {
                Console.SetError(previous);
            }
        }

        static void VersionMatchesThePackage(string packageJson)
        {
            string json = File.ReadAllText(packageJson);
            Assert(json.Contains("\"version\": \"" + RoomlinkEngine.Version + "\""),
                "package.json version is the library's " + RoomlinkEngine.Version);
        }

        // A package installed from Git is read-only in Unity, which ignores any asset without a
        // .meta file: every file and folder Unity imports must ship one.
        static void EveryAssetHasAMetaFile(string packageDir)
        {
            var missing = new List<string>();
            foreach (var path in Directory.GetFileSystemEntries(packageDir, "*", SearchOption.AllDirectories))
            {
                string relative = path.Substring(packageDir.Length + 1);
                bool hidden = relative.Split(Path.DirectorySeparatorChar)
                    .Any(part => part.StartsWith(".") || part.EndsWith("~"));
                if (!hidden && !path.EndsWith(".meta") && !File.Exists(path + ".meta"))
                {
                    missing.Add(relative);
                }
            }
            Equal("", string.Join(", ", missing.ToArray()), "assets without a .meta");
        }

        static int Main(string[] args)
        {
            var tests = new List<KeyValuePair<string, Action>>
            {
                Test("config_defaults_come_from_the_library", ConfigDefaultsComeFromTheLibrary),
                Test("bad_config_is_refused_with_its_code", BadConfigIsRefusedWithItsCode),
                Test("more_server_urls_are_checked", MoreServerUrlsAreChecked),
                Test("proxy_url_is_checked", ProxyUrlIsChecked),
                Test("tls_ca_pem_is_checked", TlsCaPemIsChecked),
                Test("main_thread_delivery_waits_for_drain", MainThreadDeliveryWaitsForDrain),
                Test("engine_thread_delivery_raises_at_once", EngineThreadDeliveryRaisesAtOnce),
                Test("drain_takes_one_at_a_time_despite_a_throw", DrainTakesOneAtATimeDespiteAThrow),
                Test("main_thread_handler_acts_before_the_next_event", MainThreadHandlerActsBeforeTheNextEvent),
                Test("clear_frees_without_raising", ClearFreesWithoutRaising),
                Test("dispose_is_once_and_later_calls_say_1900005", DisposeIsOnceAndLaterCallsSay1900005),
                Test("gc_handle_is_held_until_released", GcHandleIsHeldUntilReleased),
                Test("app_pause_reaches_every_live_engine", AppPauseReachesEveryLiveEngine),
                Test("dispose_inside_a_handler", DisposeInsideAHandler),
                Test("bad_strings_are_refused_and_change_nothing", BadStringsAreRefusedAndChangeNothing),
                Test("utf8_round_trips", Utf8RoundTrips),
                Test("log_records_reach_the_host_logger", LogRecordsReachTheHostLogger),
                Test("version_matches_the_package", () => VersionMatchesThePackage(args[0])),
                Test("every_asset_has_a_meta_file",
                    () => EveryAssetHasAMetaFile(Path.GetDirectoryName(Path.GetFullPath(args[0])))),
            };
            int passed = 0, failed = 0;
            foreach (var t in tests)
            {
                try
                {
                    t.Value();
                    passed++;
                    Console.WriteLine("ok   " + t.Key);
                }
                catch (Exception e)
                {
                    failed++;
                    Console.WriteLine("FAIL " + t.Key + ": " + e);
                }
            }
            Console.WriteLine("unity: " + passed + " passed, " + failed + " failed");
            return failed == 0 ? 0 : 1;
        }

        static KeyValuePair<string, Action> Test(string name, Action body)
        {
            return new KeyValuePair<string, Action>(name, body);
        }
    }
}
