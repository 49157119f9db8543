# Exec and attach with the official Python client (kubernetes.stream.stream: a plain WebSocket
# with the v4 channel protocol), against the pods the e2e test created; prints one JSON object
# with what each session saw.
# Usage: exec.py KUBECONFIG NAMESPACE EXEC_POD ATTACH_POD
import json
import sys

from kubernetes import client, config
from kubernetes.stream import stream

kubeconfig, namespace, exec_pod, attach_pod = sys.argv[1:5]
config.load_kube_config(config_file=kubeconfig)
api = client.CoreV1Api()


def exec_session(command, stdin=False, tty=False):
    return stream(
        api.connect_get_namespaced_pod_exec,
        exec_pod,
        namespace,
        command=command,
        stdin=stdin,
        stdout=True,
        stderr=not tty,
        tty=tty,
        _preload_content=False,
    )


def finish(ws, timeout=30):
    ws.run_forever(timeout=timeout)
    out = ws.read_stdout() or ""
    err = ws.read_stderr() or ""
    return {"stdout": out, "stderr": err, "code": ws.returncode}


result = {}

# Output on both channels and a non-zero exit code (from the error channel's status).
result["exit"] = finish(exec_session(["sh", "-c", "echo out; echo err >&2; exit 3"]))

# A one-shot call (the usual way: the output only).
result["oneshot"] = stream(
    api.connect_get_namespaced_pod_exec,
    exec_pod,
    namespace,
    command=["echo", "hello"],
    stdin=False,
    stdout=True,
    stderr=True,
    tty=False,
)

# stdin: v4 has no way to close it, so the command reads one line.
ws = exec_session(["sh", "-c", "read line; echo \"$line\" | tr a-z A-Z"], stdin=True)
ws.write_stdin("piped\n")
result["stdin"] = finish(ws)

# A terminal, resized before the command asks for its size.
ws = exec_session(["sh", "-c", "sleep 2; stty size"], stdin=True, tty=True)
ws.write_channel(4, json.dumps({"Width": 101, "Height": 33}))
result["tty"] = finish(ws)

# Attach to a container that echoes what it reads.
ws = stream(
    api.connect_get_namespaced_pod_attach,
    attach_pod,
    namespace,
    stdin=True,
    stdout=True,
    stderr=True,
    tty=False,
    _preload_content=False,
)
ws.write_stdin("from python\n")
line = ws.readline_stdout(timeout=20)
ws.close()
result["attach"] = line

print(json.dumps(result))
