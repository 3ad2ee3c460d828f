"""moto's server, one request at a time.

moto's backends keep their state in plain dicts without locks: its DynamoDB checks a transaction's
conditions and applies its writes unguarded, so under the threaded server two concurrent transactions can
both pass `uses < maxUses`, which real DynamoDB never lets happen. Running moto's own WSGI app behind one
lock makes each request atomic, keeps HTTP keep-alive, and lets a burst of a thousand connections wait in
a deep listen backlog.

Who still needs it: the DynamoDB store tests and the 1,000-submission races no longer run on moto but on
dynoxide (tests/dynoxide/with-dynoxide.sh: each operation atomic under dynoxide's own database lock, with
no lock of ours in front of it), so here the lock guards the SQS and Scheduler requests that the tests of
`make aws-test` send from many threads at once. The Lambda flow (tests/lambda, moto for everything) and
`make bench` invoke one function at a time, so their requests reach moto one after another and the lock
decides nothing for them; it stays so that no DynamoDB test put back on moto can pass on a store that is
not atomic.
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
