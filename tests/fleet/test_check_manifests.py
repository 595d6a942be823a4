#!/usr/bin/env python3
"""test_check_manifests.py — the manifest check must catch broken manifests.

The shipped deploy/kubernetes passes; then each break below is made to a
copy (one at a time) and the check must report it, with the expected words.
A check that passes everything would fail here. Run by tests/fleet/run.sh.
"""
import copy
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import check_manifests as cm  # noqa: E402

MDIR = os.path.join(cm.ROOT, "deploy", "kubernetes")
CONTAINERFILE = os.path.join(cm.ROOT, "Containerfile")
BUILD = os.path.abspath(os.environ.get("BUILD", os.path.join(cm.ROOT, "build")))


def kind(docs, k):
    return next(d for _, d in docs if d.get("kind") == k)


def pod(docs):
    return kind(docs, "DaemonSet")["spec"]["template"]["spec"]


def agent(docs):
    return next(c for c in pod(docs)["containers"] if c["command"][0].endswith("/ksmplusd"))


def sidecar(docs):
    return next(c for c in pod(docs)["containers"] if c is not agent(docs))


def set_conf(docs, old, new):
    data = kind(docs, "ConfigMap")["data"]
    assert old in data["ksmplusd.conf"], old
    data["ksmplusd.conf"] = data["ksmplusd.conf"].replace(old, new)


def mount(c, name):
    return next(m for m in c["volumeMounts"] if m["name"] == name)


# (what is broken, how, words the report must contain)
BREAKS = [
    ("selector does not match the template",
     lambda d: kind(d, "DaemonSet")["spec"]["selector"]["matchLabels"].update(
         {"app.kubernetes.io/name": "other"}), "does not match the template's labels"),
    ("a capability the unit does not keep",
     lambda d: agent(d)["securityContext"]["capabilities"]["add"].append("SYS_MODULE"),
     "['SYS_MODULE'] are not among the unit's"),
    ("capabilities not dropped first",
     lambda d: agent(d)["securityContext"]["capabilities"].pop("drop"), "must contain ALL"),
    ("privileged",
     lambda d: agent(d)["securityContext"].update(privileged=True), "privileged must be false"),
    ("no node selection by label",
     lambda d: pod(d)["nodeSelector"].pop("ksmplus.io/enabled"), "ksmplus.io/enabled"),
    ("label value a YAML boolean, which the API refuses",
     lambda d: pod(d)["nodeSelector"].update({"ksmplus.io/enabled": True}), "(a string)"),
    ("no host network: no proc connector",
     lambda d: pod(d).update(hostNetwork=False), "hostNetwork must be true"),
    ("no hostPID",
     lambda d: pod(d).pop("hostPID"), "hostPID must be true"),
    ("a mount of a volume that does not exist",
     lambda d: agent(d)["volumeMounts"].append({"name": "nosuch", "mountPath": "/x"}),
     "'nosuch' names no volume"),
    ("a volume mounted nowhere",
     lambda d: pod(d)["volumes"].append({"name": "spare", "emptyDir": {}}),
     "'spare' is mounted nowhere"),
    ("the ConfigMap's config is invalid",
     lambda d: set_conf(d, "backend = auto", "backend = turbo"),
     "ksmplusd.conf:6: invalid value 'turbo' for backend"),
    ("a cgroup glob with '/' (never matches from a pod)",
     lambda d: set_conf(d, "app = cgroup:*pod", "app = cgroup:/kubepods.slice/*pod"),
     "a glob with '/'"),
    ("a per-pod glob that misses the systemd driver's '_'",
     lambda d: set_conf(d, "pod6b1e0c4a[-_]3f2d", "pod6b1e0c4a-3f2d"),
     "under the kubelet's systemd driver"),
    ("the ConfigMap volume names a missing key",
     lambda d: mount(agent(d), "config").update(subPath="other.conf"),
     "subPath 'other.conf': no such key"),
    ("the ConfigMap volume names a missing ConfigMap",
     lambda d: next(v for v in pod(d)["volumes"] if v["name"] == "config")["configMap"].update(
         name="nosuch"), "no ConfigMap 'nosuch'"),
    ("the KSM knobs mounted read-only",
     lambda d: mount(agent(d), "ksm").update(readOnly=True), "/sys/kernel/mm/ksm must be"),
    ("the socket's directory not writable",
     lambda d: agent(d)["volumeMounts"].remove(mount(agent(d), "run")) or
     pod(d)["volumes"].remove(next(v for v in pod(d)["volumes"] if v["name"] == "run")),
     "/run/ksmplusd (control socket) is not on a writable volume"),
    ("the socket's directory an emptyDir (0777: the daemon refuses it)",
     lambda d: next(v for v in pod(d)["volumes"] if v["name"] == "run").update(
         {"emptyDir": {}}) or next(v for v in pod(d)["volumes"]
                                  if v["name"] == "run").pop("hostPath"),
     "is on an emptyDir (mode 0777)"),
    ("the textfile written where no volume is",
     lambda d: set_conf(d, "textfile = /var/lib/prometheus/node-exporter/",
                        "textfile = /var/tmp/"), "(metrics textfile) is not on a writable"),
    ("the sidecar reads another directory",
     lambda d: sidecar(d)["args"].__setitem__(
         sidecar(d)["args"].index("--collector.textfile.directory=/textfile"),
         "--collector.textfile.directory=/elsewhere"), "does not read /textfile"),
    ("the liveness probe runs something else",
     lambda d: agent(d)["livenessProbe"]["exec"].update(command=["/bin/true"]),
     "livenessProbe ['/bin/true']"),
    ("the command is not what the image installs",
     lambda d: agent(d)["command"].__setitem__(0, "/usr/local/sbin/ksmplusd"),
     "is not a path the Containerfile installs"),
    ("Burstable QoS (OOM killer may pick the agent)",
     lambda d: agent(d)["resources"]["limits"].update(memory="1Gi"),
     "requests must equal resources.limits"),
    ("an image tag other than the version",
     lambda d: agent(d).update(image=agent(d)["image"].rsplit(":", 1)[0] + ":9.9.9"),
     "is not the project's version"),
    ("a ConfigMap outside the namespace",
     lambda d: kind(d, "ConfigMap")["metadata"].update(namespace="default"),
     "metadata.namespace 'default'"),
    ("a wrong apiVersion",
     lambda d: kind(d, "DaemonSet").update(apiVersion="extensions/v1beta1"),
     "apiVersion 'extensions/v1beta1'"),
    ("a document without a name",
     lambda d: kind(d, "ConfigMap")["metadata"].pop("name"), "no metadata.name"),
    ("a document that is a list",
     lambda d: d.append(("extra.yaml", ["not", "a", "mapping"])), "not a mapping"),
]

# Breaks of the Containerfile: (what, old text, new text, words).
IMAGE_BREAKS = [
    ("a runtime library left out", "libinih1 ", "",
     "does not install libinih1 (ksmplusd needs libinih.so.1)"),
    ("a -dev package left out of the build", "libxxhash-dev", "",
     "does not install ['libxxhash-dev']"),
    ("a binary copied from where the build did not write", "/out/ksmplusctl",
     "/src/build/ksmplusctl", "the build writes to /out"),
    ("a base that is not Debian 12", "debian:12-slim", "alpine:3.20", "is Debian 12 based"),
]


def main():
    failed = 0
    docs = cm.load_manifests(MDIR)
    clean = cm.check_all(MDIR, BUILD, CONTAINERFILE, docs)
    if clean:
        print("FAIL: the shipped manifests do not pass:\n  " + "\n  ".join(clean))
        return 1
    for what, brk, words in BREAKS:
        d = copy.deepcopy(docs)
        brk(d)
        got = cm.check_all(MDIR, BUILD, CONTAINERFILE, d)
        if not any(words in line for line in got):
            failed += 1
            print(f"FAIL: broken manifest not reported: {what}\n  expected: {words}\n  got: {got}")
        else:
            print(f"ok: reported: {what}")
    with tempfile.TemporaryDirectory() as tmp:
        for what, old, new, words in IMAGE_BREAKS:
            with open(CONTAINERFILE) as f:
                text = f.read()
            assert old in text, old
            broken = os.path.join(tmp, "Containerfile")
            with open(broken, "w") as f:
                f.write(text.replace(old, new, 1))
            got = cm.check_all(MDIR, BUILD, broken, docs)
            if not any(words in line for line in got):
                failed += 1
                print(f"FAIL: broken Containerfile not reported: {what}\n  expected: {words}\n"
                      f"  got: {got}")
            else:
                print(f"ok: reported: {what}")
        # The command line too: a broken file on disk exits 1, naming it.
        mdir = os.path.join(tmp, "k8s")
        shutil.copytree(MDIR, mdir)
        ds = os.path.join(mdir, "daemonset.yaml")
        with open(ds) as f:
            text = f.read()
        with open(ds, "w") as f:
            f.write(text.replace("hostPID: true", "hostPID: false"))
        r = subprocess.run([sys.executable, cm.__file__, "--build", BUILD, mdir],
                           capture_output=True, text=True)
        if r.returncode != 1 or "daemonset.yaml: DaemonSet/ksmplusd: hostPID" not in r.stderr:
            failed += 1
            print(f"FAIL: check_manifests.py on a broken daemonset.yaml: rc={r.returncode} "
                  f"{r.stderr.strip()}")
        else:
            print("ok: check_manifests.py exits 1 on a broken daemonset.yaml")
        with open(ds, "w") as f:
            f.write(text + "  broken: [\n")
        r = subprocess.run([sys.executable, cm.__file__, "--build", BUILD, mdir],
                           capture_output=True, text=True)
        if r.returncode != 1 or "YAMLError" not in r.stderr and "ParserError" not in r.stderr:
            failed += 1
            print(f"FAIL: check_manifests.py on unparsable YAML: rc={r.returncode} "
                  f"{r.stderr.strip()}")
        else:
            print("ok: check_manifests.py exits 1 on unparsable YAML")
    print(f"manifest check: {len(BREAKS) + len(IMAGE_BREAKS) + 2 - failed} breaks caught, "
          f"{failed} missed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
