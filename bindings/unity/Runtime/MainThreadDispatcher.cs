// Raises the C# events of engines created with EventDelivery.MainThread on the thread that calls
// Drain: in Unity a hidden MonoBehaviour calls it every frame (RoomlinkDispatcherBehaviour.cs);
// any other host calls Drain from its own loop, or WaitForWork + Drain from a thread of its own.
//
// There is no queue here: such an engine is a pull-mode engine, its events wait in the engine's
// own queue (the core's, where "Logout is the last word on a room" drops a logged-out room's
// queued updates), and Drain takes them one at a time with roomlink_poll_event, raising each
// before taking the next. The engine's event-ready callback only says "something is waiting".

using System;
using System.Collections.Generic;
using System.Threading;

namespace Roomlink
{
    public static class MainThreadDispatcher
    {
        static readonly object Gate = new object(); // engines, ready
        // MainThread engines whose events are still to be taken: from creation until
        // roomlink_poll_event says the destroyed engine's last event was taken.
        static readonly List<RoomlinkEngine> engines = new List<RoomlinkEngine>();
        // An engine's queue may hold events (an event-ready call, a Dispose, or a Drain that
        // stopped at its limit): the next Drain looks.
        static bool ready;
        // One drain at a time, so an engine's events are raised in order even if two threads call
        // Drain.
        static readonly object DrainGate = new object();
        [ThreadStatic] static bool draining;

        /// <summary>Engines whose events Drain still takes: every live MainThread engine, and a
        /// disposed one until its last event (its Logouts) has been raised.</summary>
        public static int Engines
        {
            get
            {
                lock (Gate)
                {
                    return engines.Count;
                }
            }
        }

        internal static void Add(RoomlinkEngine engine)
        {
            lock (Gate)
            {
                engines.Add(engine);
            }
        }

        internal static void Forget(RoomlinkEngine engine)
        {
            lock (Gate)
            {
                engines.Remove(engine);
            }
        }

        /// <summary>Events may be waiting (the event-ready callback, on roomlink's thread, or a
        /// Dispose): wakes WaitForWork.</summary>
        internal static void Wake()
        {
            lock (Gate)
            {
                ready = true;
                Monitor.PulseAll(Gate);
            }
        }

        /// <summary>Raises waiting events on the calling thread, one at a time: each is taken from
        /// its engine's queue only after the handlers of the one before returned, so a call made
        /// in a handler (LogoutRoom, Dispose) acts before the next event is taken, as with
        /// EngineThread delivery. Takes at most <paramref name="maxEvents"/> (the rest wait for the
        /// next call, and WaitForWork returns at once). An exception from a handler is logged and
        /// does not stop the others. Called from inside a handler it does nothing and returns 0
        /// (the event being handled comes first). Returns how many events were raised.</summary>
        public static int Drain(int maxEvents = int.MaxValue)
        {
            if (maxEvents < 0)
            {
                throw new ArgumentOutOfRangeException("maxEvents", "must be >= 0");
            }
            if (draining)
            {
                return 0;
            }
            lock (DrainGate)
            {
                draining = true;
                try
                {
                    return DrainEngines(maxEvents);
                }
                finally
                {
                    draining = false;
                }
            }
        }

        static int DrainEngines(int maxEvents)
        {
            List<RoomlinkEngine> snapshot;
            lock (Gate)
            {
                // Cleared before looking: a wake-up from now on is for an event this drain may
                // miss, and makes the next one look again.
                ready = false;
                snapshot = new List<RoomlinkEngine>(engines);
            }
            int raised = 0;
            foreach (var engine in snapshot)
            {
                // Until the queue is empty (the event-ready rule: it is announced again only
                // after it was found empty), the end, or the limit.
                while (true)
                {
                    if (raised == maxEvents)
                    {
                        Wake(); // left in the queue, not announced again: the next Drain looks
                        return raised;
                    }
                    IntPtr ev;
                    int code = Native.roomlink_poll_event(engine.Handle, out ev);
                    if (code == Native.CodeOk && ev == IntPtr.Zero)
                    {
                        break;
                    }
                    if (code == Native.CodeOk)
                    {
                        PolledEvent.RaiseAndFree(engine, ev);
                        raised++;
                        continue;
                    }
                    if (code == Native.CodeEngineDestroyed)
                    {
                        Forget(engine); // its last event was raised: never polled again
                    }
                    else
                    {
                        // E.g. Drain called inside the log callback (1900103): nothing was
                        // taken, the engine stays for a later Drain.
                        RoomlinkLog.Exception(new RoomlinkException(code));
                    }
                    break;
                }
            }
            return raised;
        }

        /// <summary>Blocks until events may be waiting (true) or <paramref name="timeoutMs"/>
        /// passed (false; Timeout.Infinite waits for ever). For hosts without a frame loop; a
        /// true may find nothing to raise.</summary>
        public static bool WaitForWork(int timeoutMs)
        {
            if (timeoutMs < Timeout.Infinite)
            {
                throw new ArgumentOutOfRangeException("timeoutMs", "must be >= 0 or Timeout.Infinite");
            }
            lock (Gate)
            {
                // Re-checked after each wake-up: PulseAll wakes every waiter.
                var deadline = DateTime.UtcNow.AddMilliseconds(timeoutMs);
                while (!ready)
                {
                    int left = timeoutMs == Timeout.Infinite
                        ? Timeout.Infinite
                        : (int)Math.Max(0, (deadline - DateTime.UtcNow).TotalMilliseconds);
                    if (left == 0 || !Monitor.Wait(Gate, left))
                    {
                        return ready;
                    }
                }
                return true;
            }
        }

        /// <summary>Unity, leaving play mode after DisposeAll: takes and frees what the engines'
        /// queues still hold without raising it (a stale event is never raised in the next session
        /// when domain reload is off), and forgets every engine.</summary>
        internal static void Clear()
        {
            lock (DrainGate)
            {
                List<RoomlinkEngine> all;
                lock (Gate)
                {
                    all = new List<RoomlinkEngine>(engines);
                    engines.Clear();
                    ready = false;
                }
                foreach (var engine in all)
                {
                    IntPtr ev;
                    while (Native.roomlink_poll_event(engine.Handle, out ev) == Native.CodeOk
                        && ev != IntPtr.Zero)
                    {
                        Native.roomlink_event_free(ev);
                    }
                }
            }
        }
    }
}
