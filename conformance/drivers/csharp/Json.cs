// The driver protocol's JSON subset, by hand (Mono's 4.x profile has no JSON API in its default
// assemblies): objects, arrays, strings, integers (every protocol number is one), true, false,
// null. Objects parse to Dictionary<string, object>, arrays to List<object>, integers to long.

using System;
using System.Collections.Generic;
using System.Globalization;
using System.Text;

namespace Roomlink.Conformance
{
    internal sealed class JsonException : Exception
    {
        internal JsonException(string message) : base(message) { }
    }

    internal static class Json
    {
        internal static object Parse(string text)
        {
            int at = 0;
            object value = Value(text, ref at);
            Space(text, ref at);
            if (at != text.Length)
            {
                throw new JsonException("trailing characters at " + at);
            }
            return value;
        }

        static void Space(string s, ref int at)
        {
            while (at < s.Length && (s[at] == ' ' || s[at] == '\t' || s[at] == '\r' || s[at] == '\n'))
            {
                at++;
            }
        }

        static object Value(string s, ref int at)
        {
            Space(s, ref at);
            if (at >= s.Length)
            {
                throw new JsonException("unexpected end");
            }
            char c = s[at];
            if (c == '{')
            {
                return Object(s, ref at);
            }
            if (c == '[')
            {
                return Array(s, ref at);
            }
            if (c == '"')
            {
                return String(s, ref at);
            }
            if (c == '-' || (c >= '0' && c <= '9'))
            {
                return Number(s, ref at);
            }
            foreach (var literal in new[] { "true", "false", "null" })
            {
                if (string.CompareOrdinal(s, at, literal, 0, literal.Length) == 0)
                {
                    at += literal.Length;
                    return literal == "null" ? null : (object)(literal == "true");
                }
            }
            throw new JsonException("unexpected '" + c + "' at " + at);
        }

        static Dictionary<string, object> Object(string s, ref int at)
        {
            var result = new Dictionary<string, object>();
            at++; // {
            Space(s, ref at);
            if (at < s.Length && s[at] == '}')
            {
                at++;
                return result;
            }
            while (true)
            {
                Space(s, ref at);
                if (at >= s.Length || s[at] != '"')
                {
                    throw new JsonException("expected a key at " + at);
                }
                string key = String(s, ref at);
                Space(s, ref at);
                Expect(s, ref at, ':');
                result[key] = Value(s, ref at);
                Space(s, ref at);
                if (at < s.Length && s[at] == ',')
                {
                    at++;
                    continue;
                }
                Expect(s, ref at, '}');
                return result;
            }
        }

        static List<object> Array(string s, ref int at)
        {
            var result = new List<object>();
            at++; // [
            Space(s, ref at);
            if (at < s.Length && s[at] == ']')
            {
                at++;
                return result;
            }
            while (true)
            {
                result.Add(Value(s, ref at));
                Space(s, ref at);
                if (at < s.Length && s[at] == ',')
                {
                    at++;
                    continue;
                }
                Expect(s, ref at, ']');
                return result;
            }
        }

        static void Expect(string s, ref int at, char c)
        {
            if (at >= s.Length || s[at] != c)
            {
                throw new JsonException("expected '" + c + "' at " + at);
            }
            at++;
        }

        static string String(string s, ref int at)
        {
            var sb = new StringBuilder();
            at++; // "
            while (true)
            {
                if (at >= s.Length)
                {
                    throw new JsonException("unterminated string");
                }
                char c = s[at++];
                if (c == '"')
                {
                    return sb.ToString();
                }
                if (c != '\\')
                {
                    sb.Append(c);
                    continue;
                }
                if (at >= s.Length)
                {
                    throw new JsonException("unterminated escape");
                }
                char e = s[at++];
                switch (e)
                {
                    case '"': sb.Append('"'); break;
                    case '\\': sb.Append('\\'); break;
                    case '/': sb.Append('/'); break;
                    case 'b': sb.Append('\b'); break;
                    case 'f': sb.Append('\f'); break;
                    case 'n': sb.Append('\n'); break;
                    case 'r': sb.Append('\r'); break;
                    case 't': sb.Append('\t'); break;
                    case 'u':
                        int code;
                        if (at + 4 > s.Length || !int.TryParse(s.Substring(at, 4), NumberStyles.AllowHexSpecifier,
                                CultureInfo.InvariantCulture, out code))
                        {
                            throw new JsonException("bad \\u escape at " + at);
                        }
                        sb.Append((char)code); // surrogate pairs arrive as two escapes
                        at += 4;
                        break;
                    default:
                        throw new JsonException("bad escape \\" + e);
                }
            }
        }

        static long Number(string s, ref int at)
        {
            int start = at;
            if (s[at] == '-')
            {
                at++;
            }
            while (at < s.Length && s[at] >= '0' && s[at] <= '9')
            {
                at++;
            }
            if (at < s.Length && (s[at] == '.' || s[at] == 'e' || s[at] == 'E'))
            {
                throw new JsonException("not an integer at " + start);
            }
            long value;
            if (!long.TryParse(s.Substring(start, at - start), NumberStyles.AllowLeadingSign,
                    CultureInfo.InvariantCulture, out value))
            {
                throw new JsonException("bad integer at " + start);
            }
            return value;
        }

        internal static string Write(object value)
        {
            var sb = new StringBuilder();
            Write(sb, value);
            return sb.ToString();
        }

        static void Write(StringBuilder sb, object value)
        {
            if (value == null)
            {
                sb.Append("null");
            }
            else if (value is string)
            {
                Quote(sb, (string)value);
            }
            else if (value is bool)
            {
                sb.Append((bool)value ? "true" : "false");
            }
            else if (value is long || value is int || value is uint)
            {
                // Integers only, invariant culture: never "1.0", never a locale's digit grouping.
                sb.Append(Convert.ToInt64(value).ToString(CultureInfo.InvariantCulture));
            }
            else if (value is IDictionary<string, object>)
            {
                sb.Append('{');
                bool first = true;
                foreach (var kv in (IDictionary<string, object>)value)
                {
                    if (!first)
                    {
                        sb.Append(',');
                    }
                    first = false;
                    Quote(sb, kv.Key);
                    sb.Append(':');
                    Write(sb, kv.Value);
                }
                sb.Append('}');
            }
            else if (value is IList<object>)
            {
                sb.Append('[');
                bool first = true;
                foreach (var item in (IList<object>)value)
                {
                    if (!first)
                    {
                        sb.Append(',');
                    }
                    first = false;
                    Write(sb, item);
                }
                sb.Append(']');
            }
            else
            {
                throw new ArgumentException("cannot write " + value.GetType() + " as JSON");
            }
        }

        static void Quote(StringBuilder sb, string s)
        {
            sb.Append('"');
            foreach (char c in s)
            {
                switch (c)
                {
                    case '"': sb.Append("\\\""); break;
                    case '\\': sb.Append("\\\\"); break;
                    case '\n': sb.Append("\\n"); break;
                    case '\r': sb.Append("\\r"); break;
                    case '\t': sb.Append("\\t"); break;
                    default:
                        if (c < 0x20)
                        {
                            sb.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                        }
                        else
                        {
                            sb.Append(c); // written as UTF-8 by the driver's stdout writer
                        }
                        break;
                }
            }
            sb.Append('"');
        }

        /// <summary>JSON equality of two parsed/built values (numbers compared as integers).</summary>
        internal static bool Equal(object a, object b)
        {
            if (a == null || b == null)
            {
                return a == null && b == null;
            }
            if (IsInteger(a) && IsInteger(b))
            {
                return Convert.ToInt64(a) == Convert.ToInt64(b);
            }
            var la = a as IList<object>;
            var lb = b as IList<object>;
            if (la != null && lb != null)
            {
                if (la.Count != lb.Count)
                {
                    return false;
                }
                for (int i = 0; i < la.Count; i++)
                {
                    if (!Equal(la[i], lb[i]))
                    {
                        return false;
                    }
                }
                return true;
            }
            var da = a as IDictionary<string, object>;
            var db = b as IDictionary<string, object>;
            if (da != null && db != null)
            {
                if (da.Count != db.Count)
                {
                    return false;
                }
                foreach (var kv in da)
                {
                    object other;
                    if (!db.TryGetValue(kv.Key, out other) || !Equal(kv.Value, other))
                    {
                        return false;
                    }
                }
                return true;
            }
            return a.Equals(b);
        }

        static bool IsInteger(object v)
        {
            return v is long || v is int || v is uint;
        }
    }
}
