"""A TLS front for a unix socket, as a TLS-protected engine looks to its clients: serves
127.0.0.1:PORT with CERT/KEY, demands a client certificate signed by CA, and relays each
connection to SOCKET. Usage: tls_proxy.py PORT CERT KEY CA SOCKET"""

import socket
import ssl
import sys
import threading

port, cert, key, ca, target = int(sys.argv[1]), *sys.argv[2:6]
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(cert, key)
context.load_verify_locations(ca)
context.verify_mode = ssl.CERT_REQUIRED


def relay(source, sink):
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        for end in (source, sink):
            try:
                end.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def serve(client):
    try:
        tls = context.wrap_socket(client, server_side=True)
    except (ssl.SSLError, OSError):
        client.close()
        return
    engine = socket.socket(socket.AF_UNIX)
    engine.connect(target)
    threading.Thread(target=relay, args=(engine, tls), daemon=True).start()
    relay(tls, engine)


listener = socket.create_server(("127.0.0.1", port))
while True:
    connection, _ = listener.accept()
    threading.Thread(target=serve, args=(connection,), daemon=True).start()
