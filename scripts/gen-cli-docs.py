#!/usr/bin/python3
"""Man pages and bash completion from the programs' own --help (CLI11), so that the three never
disagree: the help text is the one source.

  gen-cli-docs.py --binary build/client/el3ctl --name el3ctl --man el3ctl.1 [--bash el3ctl.bash]

Runs `BINARY [SUB...] --help` for the program and every subcommand, recursively."""
import argparse
import re
import subprocess
import sys

SECTION = re.compile(r"^(Options|Positionals|Subcommands):$")
ENTRY = re.compile(r"^  (\S.*?)(?: {2,}(\S.*))?$")


def run_help(binary, path):
    r = subprocess.run([binary, *path, "--help"], capture_output=True, text=True, timeout=30)
    if r.returncode != 0:
        sys.exit("%s %s --help failed: %s" % (binary, " ".join(path), r.stderr))
    return r.stdout


def parse(text):
    """{'about': str, 'usage': str, 'options': [(names, arg, help)], 'positionals': [...], 'subs': [(name, help)]}"""
    about, usage, section = [], "", None
    cmd = {"options": [], "positionals": [], "subs": []}
    for line in text.splitlines():
        m = SECTION.match(line)
        if m:
            section = m.group(1)
            continue
        if line.startswith("Usage: "):
            usage = line[len("Usage: "):]
            continue
        if section is None:
            if line.strip():
                about.append(line.strip())
            continue
        e = ENTRY.match(line)
        if not e:
            if line.startswith("    ") and cmd_last(cmd, section):  # a help text continued
                cmd_last(cmd, section)[-1] += " " + line.strip()
            continue
        head, help_ = e.group(1), e.group(2) or ""
        if section == "Subcommands":
            cmd["subs"].append([head, help_])
        elif section == "Positionals":
            name, _, arg = head.partition(" ")
            cmd["positionals"].append([name, arg.strip(), help_])
        else:
            names, _, arg = head.partition(" ")
            # CLI11 puts the value's type first ("TEXT", "UINT", "FLOAT:POSITIVE") and then relations
            # ("Excludes: --warm"), which belong to the description.
            arg, _, rel = arg.strip().partition("Excludes:") if "Excludes:" in arg else (arg.strip(), "", "")
            if rel:
                help_ = (help_ + " (excludes " + rel.strip() + ")").strip()
            cmd["options"].append([names, arg.strip(), help_])
    cmd["about"] = " ".join(about)
    cmd["usage"] = usage
    return cmd


def cmd_last(cmd, section):
    key = {"Subcommands": "subs", "Positionals": "positionals", "Options": "options"}[section]
    return cmd[key][-1] if cmd[key] else None


def walk(binary, path=()):
    cmd = parse(run_help(binary, list(path)))
    cmd["path"] = list(path)
    cmd["children"] = [walk(binary, (*path, name)) for name, _ in cmd["subs"]]
    return cmd


def esc(s):
    s = s.replace("\\", "\\e").replace("-", "\\-")
    return ("\\&" + s) if s.startswith((".", "'")) else s


def man(root, name, version):
    out = ['.TH %s 1 "" "el3d %s" "User Commands"' % (name.upper(), esc(version)), ".SH NAME"]
    about = root["about"]
    if " - " in about:
        about = about.split(" - ", 1)[1]
    out += ["%s \\- %s" % (esc(name), esc(about)), ".SH SYNOPSIS", ".B %s" % esc(name)]
    out.append(esc(root["usage"].split(" ", 1)[1] if " " in root["usage"] else ""))

    def entries(cmd):
        lines = []
        for names, arg, help_ in cmd["positionals"]:
            lines += [".TP", "\\fI%s\\fR" % esc(names), esc(help_)]
        for names, arg, help_ in cmd["options"]:
            lines += [".TP", "\\fB%s\\fR%s" % (esc(names), (" " + esc(arg)) if arg else ""), esc(help_)]
        return lines

    out += [".SH OPTIONS"] + entries(root)
    if root["children"]:
        out.append(".SH COMMANDS")

        def sub(cmd):
            title = " ".join([name] + cmd["path"])
            lines = [".SS %s" % esc(title), esc(cmd["about"]) if cmd["about"] else ""]
            lines += [".PP", "Usage: %s" % esc(cmd["usage"])] + entries(cmd)
            for c in cmd["children"]:
                lines += sub(c)
            return lines

        for c in root["children"]:
            parent_help = dict((n, h) for n, h in root["subs"])
            if not c["about"]:
                c["about"] = parent_help.get(c["path"][-1], "")
            out += sub(c)
    out += [".SH SEE ALSO", "el3d(1), el3ctl(1); the documentation in the el3d sources (docs/).", ""]
    return "\n".join(l for l in out if l is not None)


def bash(root, name):
    fn = "_" + re.sub(r"\W", "_", name)
    cases, subs, valued = [], [], []

    def visit(cmd):
        key = " ".join(cmd["path"])
        words = [n for opt in cmd["options"] for n in opt[0].split(",") if n.startswith("--")]
        words += [s for s, _ in cmd["subs"]]
        takes = [n for opt in cmd["options"] if opt[1] for n in opt[0].split(",") if n.startswith("-")]
        valued.append('["%s"]=" %s "' % (key or ".", " ".join(takes)))  # "." is the program itself
        cases.append('\t"%s") words="%s" ;;' % (key, " ".join(words)))
        for s, _ in cmd["subs"]:
            subs.append("%s" % " ".join(cmd["path"] + [s]))
        for c in cmd["children"]:
            visit(c)

    visit(root)
    return """# bash completion for %(name)s, generated from its --help by scripts/gen-cli-docs.py.
%(fn)s()
{
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]} path="" w i words
	local -A subs=(%(subs)s)
	local -A valued=(%(valued)s)
	for ((i = 1; i < COMP_CWORD; i++)); do
		w=${COMP_WORDS[i]}
		[[ -n ${subs["${path:+$path }$w"]+x} ]] && path="${path:+$path }$w"
	done
	# After an option that takes a value (of this command or the program's): files.
	if [[ ${valued["${path:-.}"]} == *" $prev "* || ${valued["."]} == *" $prev "* ]]; then
		COMPREPLY=($(compgen -f -- "$cur"))
		return
	fi
	case "$path" in
%(cases)s
	*) words="" ;;
	esac
	COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
complete -o default -F %(fn)s %(name)s
""" % {"name": name, "fn": fn, "subs": " ".join('["%s"]=1' % s for s in subs),
       "valued": " ".join(valued), "cases": "\n".join(cases)}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--binary", required=True)
    p.add_argument("--name", required=True)
    p.add_argument("--version", default="")
    p.add_argument("--man", required=True)
    p.add_argument("--bash")
    a = p.parse_args()
    root = walk(a.binary)
    with open(a.man, "w") as f:
        f.write(man(root, a.name, a.version))
    if a.bash:
        with open(a.bash, "w") as f:
            f.write(bash(root, a.name))


if __name__ == "__main__":
    main()
