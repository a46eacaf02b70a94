// The queue between roomlink's event thread and the thread that raises the C# events of engines
// created with EventDelivery.MainThread. In Unity a hidden MonoBehaviour drains it every frame
// (RoomlinkDispatcherBehaviour.cs); any other host calls Drain from its own loop, or
// WaitForWork + Drain from a thread of its own.

using System;
using System.Collections.Generic;
using System.Threading;

namespace Roomlink
{
    public static class MainThreadDispatcher
    {
        static readonly object Gate = new object();
        static Queue<Action> pending = new Queue<Action>();
        // One drain at a time, so events are raised in the order they were queued even if two
        // threads call Drain.
        static readonly object DrainGate = new object();

        /// <summary>Events queued and not raised yet.</summary>
        public static int Pending
        {
            get
            {
                lock (Gate)
                {
                    return pending.Count;
                }
            }
        }

        internal static void Post(Action raise)
        {
            lock (Gate)
            {
                pending.Enqueue(raise);
                Monitor.PulseAll(Gate);
            }
        }

        /// <summary>Raises every event queued so far, in order, on the calling thread; events
        /// queued meanwhile wait for the next call (so one frame's work is bounded). An exception
        /// from a handler is logged and does not stop the others. Returns how many ran.</summary>
        public static int Drain()
        {
            lock (DrainGate)
            {
                Queue<Action> batch;
                lock (Gate)
                {
                    if (pending.Count == 0)
                    {
                        return 0;
                    }
                    batch = pending;
                    pending = new Queue<Action>();
                }
                int ran = batch.Count;
                // Handlers run outside Gate: they may call the engine, whose callbacks Post.
                while (batch.Count > 0)
                {
                    RoomlinkLog.Guard(batch.Dequeue());
                }
                return ran;
            }
        }

        /// <summary>Blocks until an event is queued (true) or <paramref name="timeoutMs"/> passed
        /// (false; Timeout.Infinite waits for ever). For hosts without a frame loop.</summary>
        public static bool WaitForWork(int timeoutMs)
        {
            if (timeoutMs < Timeout.Infinite)
            {
                throw new ArgumentOutOfRangeException("timeoutMs", "must be >= 0 or Timeout.Infinite");
            }
            lock (Gate)
            {
                if (pending.Count > 0)
                {
                    return true;
                }
                // Re-checked after each wake-up: PulseAll wakes every waiter.
                var deadline = DateTime.UtcNow.AddMilliseconds(timeoutMs);
                while (pending.Count == 0)
                {
                    int left = timeoutMs == Timeout.Infinite
                        ? Timeout.Infinite
                        : (int)Math.Max(0, (deadline - DateTime.UtcNow).TotalMilliseconds);
                    if (left == 0 || !Monitor.Wait(Gate, left))
                    {
                        return pending.Count > 0;
                    }
                }
                return true;
            }
        }

        /// <summary>Drops what is queued (Unity: leaving play mode, so a stale event is never
        /// raised in the next session when domain reload is off).</summary>
        internal static void Clear()
        {
            lock (Gate)
            {
                pending.Clear();
            }
        }
    }
}
