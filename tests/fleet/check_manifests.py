#!/usr/bin/env python3
"""check_manifests.py — offline check of deploy/kubernetes and Containerfile.

No cluster here (kubectl's --dry-run=client still asks a server for the API
mapping), so this checks the fields the fleet path relies on, against the
project's own sources of truth:

* every document: apiVersion/kind/metadata.name, in the one namespace;
* the DaemonSet: selector matches the template's labels, node selection by
  ksmplus.io/enabled, hostPID/hostNetwork, capabilities a subset of the
  systemd unit's CapabilityBoundingSet (ALL dropped first), not privileged,
  every mount names a volume and every volume is mounted, ConfigMap volumes
  name a ConfigMap and key that exist, every path the daemon writes is on a
  volume (the root file system is read-only), the metrics textfile directory
  is the one the node-exporter sidecar reads, probes run the installed
  ksmplusctl, the image tag is the project's version;
* the ConfigMap's ksmplusd.conf passes `ksmplusd --check-config`, and its
  cgroup globs work from inside a pod (relative cgroup paths);
* the Containerfile: the runtime stage installs the packages of the shared
  libraries the binaries link, the build stage the -dev packages of the
  Makefile's PKGS, and the paths the DaemonSet runs are the ones it copies.

Usage: check_manifests.py [--build DIR] [MANIFEST_DIR]
Exit 0 if clean, 1 with one line per problem otherwise.
"""
import fnmatch
import functools
import glob
import os
import re
import shlex
import subprocess
import sys
import tempfile

import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
NODE_LABEL = "ksmplus.io/enabled"
API_VERSIONS = {"Namespace": "v1", "ConfigMap": "v1", "DaemonSet": "apps/v1"}
NAMESPACED = {"ConfigMap", "DaemonSet"}


class Problems(list):
    def add(self, where, msg):
        self.append(f"{where}: {msg}")


# --- the project's sources of truth -------------------------------------------

def unit_capabilities(path=os.path.join(ROOT, "systemd", "ksmplusd.service")):
    """CapabilityBoundingSet= of the unit, without the CAP_ prefix."""
    caps = set()
    with open(path) as f:
        for line in f:
            if line.startswith("CapabilityBoundingSet="):
                caps |= {c.removeprefix("CAP_") for c in line.split("=", 1)[1].split()}
    return caps


def define(path, name):
    with open(path) as f:
        m = re.search(r'#define\s+%s\s+"([^"]*)"' % name, f.read())
    return m.group(1) if m else None


def version():
    return define(os.path.join(ROOT, "daemon", "version.h"), "KSMPLUS_VERSION")


def default_socket():
    return define(os.path.join(ROOT, "daemon", "protocol.h"), "PROTO_DEFAULT_SOCKET")


def makefile_pkgs():
    with open(os.path.join(ROOT, "Makefile")) as f:
        m = re.search(r"^PKGS\s*:=\s*(.*)$", f.read(), re.M)
    return m.group(1).split()


def parse_containerfile(path):
    """Stages of a Containerfile: [{from, as, run: [cmd], copy: [(from, src, dst)],
    label: {k: v}, entrypoint: [..]}], continuation lines joined."""
    stages = []
    with open(path) as f:
        text = re.sub(r"\\\n", " ", f.read())
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        instr, _, rest = line.partition(" ")
        instr = instr.upper()
        if instr == "FROM":
            words = rest.split()
            stages.append({"from": words[0], "as": words[2] if len(words) > 2 else None,
                           "run": [], "copy": [], "label": {}, "entrypoint": None})
        elif not stages:
            continue
        elif instr == "RUN":
            stages[-1]["run"].append(rest)
        elif instr == "COPY":
            words = shlex.split(rest)
            src_stage = None
            if words[0].startswith("--from="):
                src_stage = words.pop(0).split("=", 1)[1]
            stages[-1]["copy"].append((src_stage, words[:-1], words[-1]))
        elif instr == "LABEL":
            for word in shlex.split(rest):
                k, _, v = word.partition("=")
                stages[-1]["label"][k] = v
        elif instr == "ENTRYPOINT":
            stages[-1]["entrypoint"] = yaml.safe_load(rest)
    return stages


def apt_packages(stage):
    """Packages the stage's `apt-get install` lines name."""
    pkgs = set()
    for cmd in stage["run"]:
        for part in re.split(r"&&|;", cmd):
            words = part.split()
            if "apt-get" in words and "install" in words:
                pkgs |= {w for w in words[words.index("install") + 1:] if not w.startswith("-")}
    return pkgs


def dpkg_owners(paths):
    """{path: Debian package that installed it (symlinks followed)}, one dpkg
    call for all (each costs ~0.4 s: it reads the whole file database)."""
    real = {path: os.path.realpath(path) for path in paths}
    r = subprocess.run(["dpkg", "-S", *sorted(set(real.values()) | set(paths))],
                       capture_output=True, text=True)
    owner = {}
    for line in r.stdout.splitlines():
        pkgs, _, path = line.partition(": ")
        owner[path] = pkgs.split(":", 1)[0].split(",")[0]
    return {path: owner.get(real[path]) or owner.get(path) for path in paths}


def needed_libs(binary):
    r = subprocess.run(["objdump", "-p", binary], capture_output=True, text=True, check=True)
    return re.findall(r"^\s*NEEDED\s+(\S+)", r.stdout, re.M)


@functools.lru_cache(maxsize=None)
def ldconfig_paths():
    r = subprocess.run(["ldconfig", "-p"], capture_output=True, text=True, check=True)
    out = {}
    for line in r.stdout.splitlines()[1:]:
        if "=>" in line:
            out.setdefault(line.split()[0], line.rsplit("=>", 1)[1].strip())
    return out


@functools.lru_cache(maxsize=None)
def image_facts(build, pkgs):
    """What the Containerfile must provide, from this machine's build:
    ({pc name: -dev package}, {(program, soname): package or None})."""
    pcs = {}
    for pc in pkgs:
        r = subprocess.run(["pkg-config", "--variable=pcfiledir", pc], capture_output=True,
                           text=True)
        if r.returncode == 0:
            pcs[pc] = os.path.join(r.stdout.strip(), pc + ".pc")
    libs = {}
    for prog in ("ksmplusd", "ksmplusctl"):
        binary = os.path.join(build, prog)
        if os.path.exists(binary):
            for soname in needed_libs(binary):
                libs[(prog, soname)] = ldconfig_paths().get(soname)
    owners = dpkg_owners([x for x in list(pcs.values()) + list(libs.values()) if x])
    return ({pc: owners.get(path) for pc, path in pcs.items()},
            {k: owners.get(path) if path else None for k, path in libs.items()})


# In every Debian image, slim ones too: the Essential set depends on them.
BASE_PACKAGES = {"libc6", "libgcc-s1"}


# --- checks ------------------------------------------------------------------------

def load_manifests(mdir):
    docs = []
    for path in sorted(glob.glob(os.path.join(mdir, "*.yaml"))):
        if os.path.basename(path) == "kustomization.yaml":
            continue
        with open(path) as f:
            for doc in yaml.safe_load_all(f):
                if doc is not None:
                    docs.append((os.path.basename(path), doc))
    return docs


def where(fname, doc):
    meta = doc.get("metadata") or {}
    return f"{fname}: {doc.get('kind', '?')}/{meta.get('name', '?')}"


def check_common(docs, p):
    for fname, doc in docs:
        if not isinstance(doc, dict):
            p.add(fname, "a document that is not a mapping")
    docs[:] = [(f, d) for f, d in docs if isinstance(d, dict)]
    namespaces = [d["metadata"]["name"] for _, d in docs
                  if d.get("kind") == "Namespace" and (d.get("metadata") or {}).get("name")]
    if len(namespaces) != 1:
        p.add("manifests", f"expected one Namespace, found {len(namespaces)}")
    for fname, doc in docs:
        w = where(fname, doc)
        kind = doc.get("kind")
        if kind not in API_VERSIONS:
            p.add(w, f"kind {kind!r} is not one this check knows (add its schema here)")
            continue
        if doc.get("apiVersion") != API_VERSIONS[kind]:
            p.add(w, f"apiVersion {doc.get('apiVersion')!r}, expected {API_VERSIONS[kind]!r}")
        meta = doc.get("metadata")
        if not isinstance(meta, dict) or not meta.get("name"):
            p.add(w, "no metadata.name")
            continue
        if not re.fullmatch(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?", meta["name"]):
            p.add(w, f"metadata.name {meta['name']!r} is not a DNS-1123 name")
        if kind in NAMESPACED and namespaces and meta.get("namespace") != namespaces[0]:
            p.add(w, f"metadata.namespace {meta.get('namespace')!r}, expected {namespaces[0]!r}")
        if kind == "Namespace":
            labels = meta.get("labels") or {}
            if labels.get("pod-security.kubernetes.io/enforce") != "privileged":
                p.add(w, "pod-security.kubernetes.io/enforce must be privileged: the agent "
                      "needs hostPID, hostNetwork and capabilities beyond baseline")
        if kind == "ConfigMap":
            data = doc.get("data")
            if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
                p.add(w, "data must map keys to strings")


def check_config_text(text, build, w, p):
    """Runs ksmplusd --check-config on the ConfigMap's config."""
    daemon = os.path.join(build, "ksmplusd")
    if not os.access(daemon, os.X_OK):
        p.add(w, f"cannot run --check-config: no {daemon} (make all)")
        return
    with tempfile.TemporaryDirectory() as tmp:
        conf = os.path.join(tmp, "ksmplusd.conf")
        with open(conf, "w") as f:
            f.write(text)
        r = subprocess.run([daemon, "--check-config", "--config", conf],
                           capture_output=True, text=True)
    if r.returncode != 0:
        p.add(w, "ksmplusd.conf fails ksmplusd --check-config: " +
              (r.stderr or r.stdout).strip().replace(conf, "ksmplusd.conf"))


def config_values(text):
    """{(section, key): [values]} of an INI text, enough for the cross-checks."""
    section, out = "", {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        k, _, v = line.partition("=")
        out.setdefault((section, k.strip()), []).append(v.strip())
    return out


def glob_matches(glob_, path):
    """cgroup_glob_match() of daemon/cgroups.c: no '/', any one component."""
    if "/" in glob_:
        return fnmatch.fnmatchcase(path, glob_)
    return any(fnmatch.fnmatchcase(c, glob_) for c in path.split("/") if c)


def check_cgroup_globs(values, w, p):
    """In a pod, /proc/PID/cgroup of other pods' processes is relative to the
    agent's cgroup namespace ("/../../kubepods-..."): a glob with '/' never
    matches. A per-pod glob must match the pod's cgroup under both kubelet
    cgroup drivers."""
    for line in values.get(("apps", "app"), []):
        for app in re.split(r"[\s,]+", line):
            if not app.startswith("cgroup:"):
                continue
            g = app[len("cgroup:"):]
            if "/" in g:
                p.add(w, f"app {app}: a glob with '/' matches the whole cgroup path, which "
                      "a pod sees relative to its own cgroup namespace; use one component")
            m = re.search(r"pod([0-9a-f\[\]_-]+)", g)
            if not m:
                continue
            uid = m.group(1).replace("[-_]", "-")
            forms = {
                "systemd driver": "/../../kubepods.slice/kubepods-burstable.slice/"
                                  f"kubepods-burstable-pod{uid.replace('-', '_')}.slice/"
                                  "cri-containerd-0123abcd.scope",
                "cgroupfs driver": f"/../../kubepods/burstable/pod{uid}/0123abcd",
            }
            for driver, path in forms.items():
                if not glob_matches(g, path):
                    p.add(w, f"app {app} does not match the pod's cgroup under the "
                          f"kubelet's {driver} ({path})")


def container_mounts(c):
    return {m.get("mountPath"): m for m in c.get("volumeMounts") or []}


def covering_mount(c, path):
    """The mount of container c that path lies on (the longest prefix)."""
    best = None
    for mp, m in container_mounts(c).items():
        if mp and (path == mp or path.startswith(mp.rstrip("/") + "/")):
            if best is None or len(mp) > len(best["mountPath"]):
                best = m
    return best


def check_daemonset(fname, ds, docs, image, build, p):
    w = where(fname, ds)
    spec = ds.get("spec") or {}
    tmpl = spec.get("template") or {}
    tlabels = (tmpl.get("metadata") or {}).get("labels") or {}
    sel = (spec.get("selector") or {}).get("matchLabels") or {}
    if not sel:
        p.add(w, "spec.selector.matchLabels is empty")
    for k, v in sel.items():
        if tlabels.get(k) != v:
            p.add(w, f"selector {k}={v} does not match the template's labels "
                  f"({k}={tlabels.get(k)!r})")
    pod = tmpl.get("spec") or {}
    ns = pod.get("nodeSelector") or {}
    if ns.get(NODE_LABEL) != "true":
        p.add(w, f"nodeSelector must select {NODE_LABEL}: \"true\" (a string), "
              f"has {ns.get(NODE_LABEL)!r}")
    for key, why in (("hostPID", "the host's processes and /proc"),
                     ("hostNetwork", "the proc connector (initial network namespace only)")):
        if pod.get(key) is not True:
            p.add(w, f"{key} must be true: {why}")
    if pod.get("automountServiceAccountToken") is not False:
        p.add(w, "automountServiceAccountToken must be false: the agent uses no API")

    volumes = {}
    for v in pod.get("volumes") or []:
        if v.get("name") in volumes:
            p.add(w, f"volume {v.get('name')!r} defined twice")
        volumes[v.get("name")] = v
    configmaps = {(d.get("metadata") or {}).get("name"): d for _, d in docs
                  if d.get("kind") == "ConfigMap"}
    containers = pod.get("containers") or []
    if not containers:
        p.add(w, "no containers")
    mounted, names = set(), set()
    caps = unit_capabilities()
    for c in containers + (pod.get("initContainers") or []):
        cw = f"{w}: container {c.get('name')!r}"
        if not c.get("name") or c["name"] in names:
            p.add(cw, "missing or repeated container name")
        names.add(c.get("name"))
        img = c.get("image") or ""
        if not re.fullmatch(r"[^\s:@]+(:[\w][\w.-]*)(@sha256:[0-9a-f]{64})?", img) or \
                img.endswith(":latest"):
            p.add(cw, f"image {img!r} needs an explicit tag, not latest")
        sc = c.get("securityContext") or {}
        if sc.get("privileged") is not False:
            p.add(cw, "securityContext.privileged must be false")
        if sc.get("allowPrivilegeEscalation") is not False:
            p.add(cw, "allowPrivilegeEscalation must be false (the unit's NoNewPrivileges=yes)")
        if sc.get("readOnlyRootFilesystem") is not True:
            p.add(cw, "readOnlyRootFilesystem must be true (the unit's ProtectSystem=strict)")
        capsc = sc.get("capabilities") or {}
        if "ALL" not in (capsc.get("drop") or []):
            p.add(cw, "capabilities.drop must contain ALL (else the runtime's default set stays)")
        extra = set(capsc.get("add") or []) - caps
        if extra:
            p.add(cw, f"capabilities {sorted(extra)} are not among the unit's "
                  f"CapabilityBoundingSet {sorted(caps)}")
        res = c.get("resources") or {}
        if not res.get("limits") or res.get("requests") != res.get("limits"):
            p.add(cw, "resources.requests must equal resources.limits (Guaranteed QoS: the "
                  "OOM killer must not pick the agent in the middle of an injection)")
        seen = set()
        for m in c.get("volumeMounts") or []:
            if m.get("mountPath") in seen:
                p.add(cw, f"two mounts at {m.get('mountPath')}")
            seen.add(m.get("mountPath"))
            vol = volumes.get(m.get("name"))
            if vol is None:
                p.add(cw, f"volumeMount {m.get('name')!r} names no volume of the pod")
                continue
            mounted.add(m["name"])
            cm = vol.get("configMap")
            if cm is not None:
                cmdoc = configmaps.get(cm.get("name"))
                if cmdoc is None:
                    p.add(cw, f"volume {m['name']!r}: no ConfigMap {cm.get('name')!r}")
                elif m.get("subPath") and m["subPath"] not in (cmdoc.get("data") or {}):
                    p.add(cw, f"subPath {m['subPath']!r}: no such key in ConfigMap "
                          f"{cm.get('name')!r}")
    for name in volumes:
        if name not in mounted:
            p.add(w, f"volume {name!r} is mounted nowhere")

    daemon = [c for c in containers if (c.get("command") or [""])[0].endswith("/ksmplusd")]
    if len(daemon) != 1:
        p.add(w, "expected one container whose command runs ksmplusd")
        return
    check_daemon_container(w, daemon[0], containers, volumes, configmaps, image, build, p)


def check_daemon_container(w, c, containers, volumes, configmaps, image, build, p):
    cw = f"{w}: container {c['name']!r}"
    cmd = c["command"] + (c.get("args") or [])
    if cmd[0] not in image["installed"]:
        p.add(cw, f"command {cmd[0]} is not a path the Containerfile installs "
              f"({sorted(image['installed'])})")
    tag = c.get("image", "").rsplit(":", 1)[-1]
    if tag != version():
        p.add(cw, f"image tag {tag!r} is not the project's version {version()!r}")
    conf = cmd[cmd.index("--config") + 1] if "--config" in cmd else "/etc/ksmplusd.conf"
    sock = cmd[cmd.index("--socket") + 1] if "--socket" in cmd else default_socket()
    cm_mount = covering_mount(c, conf)
    text = None
    if cm_mount is None or "configMap" not in volumes.get(cm_mount["name"], {}):
        p.add(cw, f"the config {conf} is not mounted from a ConfigMap")
    else:
        cm = configmaps.get(volumes[cm_mount["name"]]["configMap"].get("name"))
        key = cm_mount.get("subPath") or os.path.relpath(conf, cm_mount["mountPath"])
        text = ((cm or {}).get("data") or {}).get(key)
        if text is None:
            p.add(cw, f"the config {conf}: no key {key!r} in its ConfigMap")
    values = {}
    if text is not None:
        cmw = f"{cw}: ConfigMap key for {conf}"
        check_config_text(text, build, cmw, p)
        values = config_values(text)
        check_cgroup_globs(values, cmw, p)

    # What the daemon writes must be on a writable volume (read-only root).
    ksm = covering_mount(c, "/sys/kernel/mm/ksm")
    if ksm is None or ksm["mountPath"] != "/sys/kernel/mm/ksm" or ksm.get("readOnly") or \
            (volumes.get(ksm["name"]) or {}).get("hostPath", {}).get("path") != "/sys/kernel/mm/ksm":
        p.add(cw, "/sys/kernel/mm/ksm must be the host's, mounted writable at the same path "
              "(ksmd's knobs; /sys is read-only in an unprivileged container)")
    writes = {"control socket": os.path.dirname(sock), "ksmplusctl add's drop-in": conf + ".d"}
    textfile = (values.get(("metrics", "textfile")) or [""])[-1]
    if textfile:
        writes["metrics textfile"] = os.path.dirname(textfile)
    for what, path in writes.items():
        m = covering_mount(c, path)
        if m is None or m.get("readOnly") or m.get("subPath"):
            p.add(cw, f"{path} ({what}) is not on a writable volume, and the root file "
                  "system is read-only")
    # control.c refuses a socket whose directory (or a parent without the
    # sticky bit) others may write: an emptyDir is created mode 0777.
    m = covering_mount(c, os.path.dirname(sock))
    if m is not None and "emptyDir" in (volumes.get(m["name"]) or {}):
        p.add(cw, f"the control socket's directory {os.path.dirname(sock)} is on an emptyDir "
              "(mode 0777): ksmplusd refuses a socket directory others may write")
    if textfile:
        m = covering_mount(c, os.path.dirname(textfile))
        if m is not None:
            check_textfile_reader(cw, m, textfile, containers, c, p)

    for probe in ("livenessProbe", "startupProbe"):
        argv = ((c.get(probe) or {}).get("exec") or {}).get("command") or []
        if probe == "livenessProbe" and not argv:
            p.add(cw, "no livenessProbe running ksmplusctl status")
        if argv and (argv[0] not in image["installed"] or not argv[0].endswith("/ksmplusctl")
                     or "status" not in argv[1:]):
            p.add(cw, f"{probe} {argv} must run the image's ksmplusctl status "
                  f"(installed: {sorted(image['installed'])})")


def check_textfile_reader(cw, m, textfile, containers, daemon, p):
    """Someone must read the textfile: a container mounting the same volume
    whose --collector.textfile.directory is where the file appears for it."""
    for other in containers:
        if other is daemon:
            continue
        for om in other.get("volumeMounts") or []:
            if om.get("name") != m["name"]:
                continue
            rel = os.path.relpath(os.path.dirname(textfile), m["mountPath"])
            want = os.path.normpath(os.path.join(om["mountPath"], rel))
            args = other.get("args") or []
            dirs = [a.split("=", 1)[1] for a in args
                    if a.startswith("--collector.textfile.directory=")]
            if "--collector.textfile" in args and dirs == [want]:
                return
            p.add(f"{cw[:cw.rfind(': container')]}: container {other.get('name')!r}",
                  f"mounts the textfile volume at {om['mountPath']} but does not read "
                  f"{want} (--collector.textfile --collector.textfile.directory={want})")
            return
    if not m.get("name"):
        return
    p.add(cw, f"nothing reads the metrics textfile {textfile}: share its volume with a "
          "node-exporter container, or make it a hostPath to the node's collector directory")


def check_kustomization(mdir, docs, p):
    path = os.path.join(mdir, "kustomization.yaml")
    if not os.path.exists(path):
        return
    with open(path) as f:
        k = yaml.safe_load(f)
    files = {os.path.basename(x) for x in glob.glob(os.path.join(mdir, "*.yaml"))}
    files.discard("kustomization.yaml")
    res = set(k.get("resources") or [])
    for r in res - files:
        p.add("kustomization.yaml", f"resource {r} does not exist")
    for r in files - res:
        p.add("kustomization.yaml", f"{r} is not among its resources")
    images = {i.get("name") for i in k.get("images") or []}
    for fname, d in docs:
        if d.get("kind") != "DaemonSet":
            continue
        for c in d["spec"]["template"]["spec"].get("containers") or []:
            name = c.get("image", "").rsplit(":", 1)[0]
            if "ksmplusd" in name and name not in images:
                p.add("kustomization.yaml", f"images: no entry for {name} (the registry "
                      "users substitute)")


def check_image(containerfile, build, p):
    """The Containerfile against this machine's build: returns what it installs."""
    w = os.path.basename(containerfile)
    stages = parse_containerfile(containerfile)
    image = {"installed": set()}
    if len(stages) < 2:
        p.add(w, "expected a build stage and a runtime stage")
        return image
    builder, runtime = stages[0], stages[-1]
    for s in stages:
        if not re.match(r"(docker\.io/library/)?debian:12", s["from"]):
            p.add(w, f"FROM {s['from']}: the image is Debian 12 based")
    dev, libs = image_facts(build, tuple(makefile_pkgs()))
    want_dev = {"build-essential", "pkg-config"}
    for pc in makefile_pkgs():
        if dev.get(pc) is None:
            p.add(w, f"cannot tell which package provides pkg-config's {pc} (make deps)")
        else:
            want_dev.add(dev[pc])
    missing = want_dev - apt_packages(builder)
    if missing:
        p.add(w, f"the build stage does not install {sorted(missing)} (Makefile PKGS)")
    m = re.search(r"\bmake\b.*\bBUILD=(\S+)", " ".join(builder["run"]))
    outdir = m.group(1) if m else "build"
    if not outdir.startswith("/"):
        outdir = os.path.join("/src", outdir)
    have = apt_packages(runtime)
    for prog in ("ksmplusd", "ksmplusctl"):
        if not os.path.exists(os.path.join(build, prog)):
            p.add(w, f"no {os.path.join(build, prog)} to read the libraries of (make all)")
    for (prog, soname), pkg in sorted(libs.items()):
        if pkg is None:
            p.add(w, f"{prog} needs {soname}, which no package here provides")
        elif pkg not in have | BASE_PACKAGES:
            p.add(w, f"the runtime stage does not install {pkg} ({prog} needs {soname})")
    for src_stage, srcs, dst in runtime["copy"]:
        if src_stage is not None and src_stage != builder["as"]:
            p.add(w, f"COPY --from={src_stage}: no such stage")
        if src_stage is not None:
            for s in srcs:
                if os.path.dirname(s) != outdir.rstrip("/"):
                    p.add(w, f"COPY {s}: the build writes to {outdir}")
            if len(srcs) == 1:
                image["installed"].add(dst)
    ver = runtime["label"].get("org.opencontainers.image.version")
    if ver != version():
        p.add(w, f"label org.opencontainers.image.version {ver!r} is not {version()!r}")
    ep = runtime.get("entrypoint") or [""]
    if ep[0] not in image["installed"]:
        p.add(w, f"ENTRYPOINT {ep[0]} is not a file the runtime stage copies")
    return image


def check_all(mdir, build, containerfile, docs=None):
    p = Problems()
    docs = list(load_manifests(mdir) if docs is None else docs)
    image = check_image(containerfile, build, p)
    check_common(docs, p)       # drops documents that are not mappings
    for fname, d in docs:
        if isinstance(d, dict) and d.get("kind") == "DaemonSet":
            check_daemonset(fname, d, docs, image, build, p)
    check_kustomization(mdir, docs, p)
    return p


def main(argv):
    build = os.environ.get("BUILD", os.path.join(ROOT, "build"))
    args = list(argv)
    if args[:1] == ["--build"]:
        build = args[1]
        args = args[2:]
    mdir = args[0] if args else os.path.join(ROOT, "deploy", "kubernetes")
    containerfile = os.path.join(ROOT, "Containerfile")
    try:
        problems = check_all(mdir, os.path.abspath(build), containerfile)
    except (yaml.YAMLError, KeyError, TypeError, AttributeError, IndexError) as e:
        print(f"manifests: cannot check: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    for line in problems:
        print(line, file=sys.stderr)
    if problems:
        print(f"{len(problems)} problem(s) in {mdir}", file=sys.stderr)
        return 1
    print(f"manifests ok: {mdir}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
