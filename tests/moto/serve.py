"""moto's server, one request at a time.

moto's in-memory DynamoDB checks a transaction's conditions and applies its writes without a lock, so
under the threaded server two concurrent transactions can both pass `uses < maxUses`. Real DynamoDB
serialises them. Running moto's own WSGI app behind one lock gives the tests that guarantee, keeps
HTTP keep-alive, and lets a burst of a thousand connections wait in a deep listen backlog.
"""

import sys
import threading

import werkzeug.serving
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app

werkzeug.serving.LISTEN_QUEUE = 4096

app = DomainDispatcherApplication(create_backend_app)
lock = threading.Lock()


def serialised(environ, start_response):
    with lock:
        return list(app(environ, start_response))


if __name__ == "__main__":
    host, port = sys.argv[1], int(sys.argv[2])
    werkzeug.serving.run_simple(host, port, serialised, threaded=True, request_handler=MotoRequestHandler)
