// Unity's IL2CPP needs [AOT.MonoPInvokeCallback] on every static method native code calls back
// into; Unity's UnityEngine assembly defines the attribute. Mono and .NET do not, so outside Unity
// this file defines it (internal: it must never clash with another assembly's copy).
#if !UNITY_5_3_OR_NEWER
using System;

namespace AOT
{
    [AttributeUsage(AttributeTargets.Method)]
    internal sealed class MonoPInvokeCallbackAttribute : Attribute
    {
        public MonoPInvokeCallbackAttribute(Type type)
        {
            Type = type;
        }

        public Type Type { get; private set; }
    }
}
#endif
