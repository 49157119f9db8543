# Port-forward with the official Python client (kubernetes.stream.portforward, a plain WebSocket
# with the v4 channel protocol): sends an HTTP/1.0 request to the pod's port through the tunnel
# and prints the answer and the port's error channel as JSON.
# Usage: portforward.py KUBECONFIG NAMESPACE POD PORT
import json
import sys

from kubernetes import client, config
from kubernetes.stream import portforward

kubeconfig, namespace, pod, port = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
config.load_kube_config(config_file=kubeconfig)
api = client.CoreV1Api()
pf = portforward(api.connect_get_namespaced_pod_portforward, pod, namespace, ports=str(port))
sock = pf.socket(port)
sock.setblocking(True)
sock.settimeout(20)
sock.sendall(b"GET / HTTP/1.0\r\nHost: pod\r\n\r\n")
answer = b""
while True:
    data = sock.recv(65536)
    if not data:
        break
    answer += data
sock.close()
print(json.dumps({"answer": answer.decode("utf-8", "replace"), "error": pf.error(port)}))
