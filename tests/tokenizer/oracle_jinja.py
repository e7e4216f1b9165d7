"""Test oracle: renders templates with Debian's python3-jinja2 in the environment transformers'
apply_chat_template uses (and so vLLM): ImmutableSandboxedEnvironment with trim_blocks,
lstrip_blocks and the loopcontrols extension, transformers' tojson filter, the raise_exception
and strftime_now globals, and the {% generation %} block.

usage: /usr/bin/python3 oracle_jinja.py REQUEST.json RESPONSE.json
REQUEST:  [{"template": "...", "context": {...}}, ...]; the context key "__now__" (epoch seconds)
          fixes the time strftime_now formats.
RESPONSE: [{"ok": true, "output": "..."} | {"ok": false, "error": "..."}, ...]
"""
import json
import sys
from datetime import datetime

import jinja2
from jinja2 import nodes
from jinja2.ext import Extension
from jinja2.sandbox import ImmutableSandboxedEnvironment


class GenerationBlock(Extension):
    """transformers' AssistantTracker without the tracking: the body renders unchanged."""

    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
        return nodes.CallBlock(self.call_method("_render"), [], [], body).set_lineno(lineno)

    def _render(self, caller):
        return caller()


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    # transformers overrides Jinja's tojson: no HTML escaping, keys kept in order.
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def raise_exception(message):
    raise jinja2.exceptions.TemplateError(message)


def main():
    req_path, resp_path = sys.argv[1:3]
    with open(req_path, encoding="utf-8") as f:
        cases = json.load(f)
    env = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[GenerationBlock, "jinja2.ext.loopcontrols"]
    )
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    out = []
    for case in cases:
        ctx = dict(case["context"])
        now = ctx.pop("__now__", 0)
        env.globals["strftime_now"] = lambda fmt, now=now: datetime.fromtimestamp(now).strftime(fmt)
        try:
            rendered = env.from_string(case["template"]).render(**ctx)
            out.append({"ok": True, "output": rendered})
        except Exception as e:  # every failure is a result to compare
            out.append({"ok": False, "error": str(e), "type": type(e).__name__})
    with open(resp_path, "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False)


if __name__ == "__main__":
    main()
