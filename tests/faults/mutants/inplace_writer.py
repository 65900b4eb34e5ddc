"""A deliberately unsafe stand-in for json_merge, used only to prove the fault harness can fail.

It speaks the module protocol ({"ANSIBLE_MODULE_ARGS": ...} on stdin, one JSON result on
stdout) and merges like the real module for the simple values the kill test sends, but it
writes the file in place (truncate, then write in chunks), the way a naive tool does. A kill
-9 during that write leaves a torn or empty file, which the harness must notice.
"""

import json
import sys

args = json.load(sys.stdin)["ANSIBLE_MODULE_ARGS"]
path = args["path"]
with open(path) as fh:
    doc = json.load(fh)
value = args["value"]
for key, val in value.items():
    if key == "customModels":
        for item in val:
            for existing in doc.setdefault("customModels", []):
                if existing.get("model") == item["model"] and existing.get("baseUrl") == item["baseUrl"]:
                    existing.update(item)
                    break
            else:
                doc["customModels"].append(item)
    else:
        doc[key] = val
text = json.dumps(doc, indent=2)
with open(path, "w") as fh:  # truncates first: the unsafe part
    for i in range(0, len(text), 65536):
        fh.write(text[i : i + 65536])
        fh.flush()
print(json.dumps({"changed": True}))
