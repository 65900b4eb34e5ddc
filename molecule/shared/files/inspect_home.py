# Molecule test helper, copied into the containers by molecule/shared/prepare.yml.
# It reads what a developer has on disk and prints it in a form that is safe to log: secrets are
# never printed, only their SHA-256, so the Molecule log can be searched for leaked keys.
#
#   inspect_home.py stat PATH...        JSON list: path, exists, type, mode, uid, gid of each path
#   inspect_home.py jsonc FILE...       JSON list: each JSON(C) document, secrets hashed, plus its
#                                       comments
#   inspect_home.py fingerprint DIR...  one line per path: type, mode, owner, size, mtime, sha256
#   inspect_home.py find-secret DIR...  stdin: one secret on the first line ("own"), any number
#                                       of others after it; prints JSON {"own": [files holding
#                                       the first], "others": [files holding any other]}
#   inspect_home.py requests FILE       the LLMCloud stand-in's request record (JSON lines) as a
#                                       JSON list (method, path, auth, model, status, key hash),
#                                       then empties the record for the next request
"""Inspect developer homes without printing secrets."""

import hashlib
import json
import os
import stat
import sys

SECRET_KEYS = {"apiKey", "api_key"}


def strip_jsonc(text):
    """Return (json_text, comments): text with // and /* */ comments blanked out."""
    out = []
    comments = []
    i = 0
    n = len(text)
    in_string = False
    while i < n:
        c = text[i]
        if in_string:
            out.append(c)
            if c == "\\" and i + 1 < n:
                out.append(text[i + 1])
                i += 2
                continue
            if c == '"':
                in_string = False
            i += 1
            continue
        if c == '"':
            in_string = True
            out.append(c)
            i += 1
            continue
        if text.startswith("//", i):
            end = text.find("\n", i)
            end = n if end < 0 else end
            comments.append(text[i:end].strip())
            out.append(" " * (end - i))
            i = end
            continue
        if text.startswith("/*", i):
            end = text.find("*/", i + 2)
            if end < 0:
                raise ValueError("unterminated /* comment at offset %d" % i)
            end += 2
            comments.append(text[i:end].strip())
            out.append("".join(ch if ch == "\n" else " " for ch in text[i:end]))
            i = end
            continue
        out.append(c)
        i += 1
    return "".join(out), comments


def hash_secrets(node):
    """Replace every secret value by 'sha256:<hex>' (environment references are kept as text)."""
    if isinstance(node, dict):
        result = {}
        for key, value in node.items():
            if key in SECRET_KEYS and isinstance(value, str) and not value.startswith("${"):
                result[key] = "sha256:" + hashlib.sha256(value.encode()).hexdigest()
            else:
                result[key] = hash_secrets(value)
        return result
    if isinstance(node, list):
        return [hash_secrets(item) for item in node]
    return node


def cmd_stat(paths):
    result = []
    for path in paths:
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            result.append({"path": path, "exists": False})
            continue
        kind = "dir" if stat.S_ISDIR(st.st_mode) else "file" if stat.S_ISREG(st.st_mode) else "link" if stat.S_ISLNK(st.st_mode) else "other"
        result.append({"path": path, "exists": True, "type": kind, "mode": "%04o" % stat.S_IMODE(st.st_mode), "uid": st.st_uid, "gid": st.st_gid})
    print(json.dumps(result, indent=1))


def cmd_jsonc(paths):
    result = []
    for path in paths:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
        body, comments = strip_jsonc(text)
        document = json.loads(body)
        result.append({"path": path, "document": hash_secrets(document), "comments": comments})
    print(json.dumps(result, indent=1))


def walk(roots):
    for root in roots:
        yield root
        for folder, dirs, files in os.walk(root):
            dirs.sort()
            for name in dirs + sorted(files):
                yield os.path.join(folder, name)


def cmd_fingerprint(roots):
    for path in walk(roots):
        st = os.lstat(path)
        digest = "-"
        if stat.S_ISREG(st.st_mode):
            with open(path, "rb") as handle:
                digest = hashlib.sha256(handle.read()).hexdigest()
        elif stat.S_ISLNK(st.st_mode):
            digest = "-> " + os.readlink(path)
        print("%s %s %d:%d %d %d %s" % (path, stat.filemode(st.st_mode), st.st_uid, st.st_gid, st.st_size, st.st_mtime_ns, digest))


def cmd_find_secret(roots):
    secrets = [line.strip().encode() for line in sys.stdin if line.strip()]
    if not secrets:
        sys.exit("find-secret: no secret on stdin")
    own, others = secrets[0], secrets[1:]
    found = {"own": [], "others": []}
    for path in walk(roots):
        if not os.path.isfile(path) or os.path.islink(path):
            continue
        with open(path, "rb") as handle:
            data = handle.read()
        if own in data:
            found["own"].append(path)
        if any(secret in data for secret in others):
            found["others"].append(path)
    print(json.dumps(found, indent=1))


def cmd_requests(path):
    requests = []
    if os.path.exists(path):
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                if not line.strip():
                    continue
                entry = json.loads(line)
                key = entry.get("api_key")
                requests.append(
                    {
                        "method": entry.get("method"),
                        "path": entry.get("path"),
                        "auth": entry.get("auth"),
                        "model": entry.get("model"),
                        "status": entry.get("status"),
                        "api_key_sha256": hashlib.sha256(key.encode()).hexdigest() if key else None,
                    }
                )
        open(path, "w").close()
    print(json.dumps(requests, indent=1))


COMMANDS = {
    "stat": cmd_stat,
    "jsonc": cmd_jsonc,
    "fingerprint": cmd_fingerprint,
    "find-secret": cmd_find_secret,
    "requests": lambda args: cmd_requests(args[0]),
}


def main(argv):
    if len(argv) < 3 or argv[1] not in COMMANDS:
        sys.exit(__doc__ + "\nusage: inspect_home.py " + " | ".join(sorted(COMMANDS)) + " ARGS")
    COMMANDS[argv[1]](argv[2:])


if __name__ == "__main__":
    main(sys.argv)
