import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { exceptionFingerprint, exceptionTypeFromStack, normaliseFrames } from '../../../src/correlation/fingerprint.ts';

const JAVA = (orderId: number, line: number, lambda: string) => `java.lang.IllegalStateException: payment declined for order ${orderId}
\tat com.shop.payments.PaymentService.charge(PaymentService.java:${line})
\tat com.shop.payments.PaymentService$$Lambda$${lambda}.apply(Unknown Source)
\tat jdk.internal.reflect.GeneratedMethodAccessor${lambda}.invoke(Unknown Source)
\tat com.shop.payments.PaymentController.pay(PaymentController.java:42)
\tat java.base/java.lang.Thread.run(Thread.java:833)
Caused by: java.net.SocketTimeoutException: Read timed out after ${orderId % 1000} ms
\tat java.base/sun.nio.ch.NioSocketImpl.timedRead(NioSocketImpl.java:288)
\t... ${lambda} more`;

const PYTHON = (user: string, line: number) => `Traceback (most recent call last):
  File "/srv/venv-${line}/lib/python3.11/site-packages/flask/app.py", line ${line * 10}, in full_dispatch_request
    rv = self.dispatch_request()
  File "/app/payments/service.py", line ${line}, in charge
    result = gateway.submit(order_id=order.id, user="${user}")
  File "/app/payments/gateway.py", line 17, in submit
    raise CardDeclined(f"card declined for {user}")
payments.errors.CardDeclined: card declined for ${user}`;

const NODE = (ip: string, col: number) => `Error: connect ECONNREFUSED ${ip}:5432
    at TCPConnectWrap.afterConnect [as oncomplete] (node:net:1555:${col})
    at async PaymentService.charge (file:///app/dist/payments/service.js:42:${col})
    at async /app/dist/server.3f2a9c1b.js:118:5`;

const GO = (ptr: string, line: number) => `panic: runtime error: invalid memory address or nil pointer dereference
[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=${ptr}]

goroutine ${line} [running]:
main.(*PaymentHandler).Charge(${ptr}, {0x7ffd5b2c, 0x5})
\t/app/payments/handler.go:${line} +0x1d
net/http.HandlerFunc.ServeHTTP(0xc0000a6000?, {0x6f8a20, ${ptr}}, 0xc0000c2000)
\t/usr/local/go/src/net/http/server.go:2136 +0x29
created by net/http.(*Server).Serve in goroutine 1
\t/usr/local/go/src/net/http/server.go:3086 +0x5cb`;

describe('exception fingerprints', () => {
  test('Java: line numbers, generated class numbers and the message do not change the fingerprint', () => {
    const a = exceptionFingerprint({ type: 'java.lang.IllegalStateException', stacktrace: JAVA(1234, 87, '123') });
    const b = exceptionFingerprint({ type: 'java.lang.IllegalStateException', stacktrace: JAVA(98765, 91, '456') });
    assert.equal(a, b);
    assert.match(a, /^[0-9a-f]{16}$/);
    const frames = normaliseFrames(JAVA(1234, 87, '123'));
    assert.deepEqual(frames, [
      'at com.shop.payments.PaymentService.charge(PaymentService.java)',
      'at com.shop.payments.PaymentService$$Lambda$.apply(Unknown Source)',
      'at jdk.internal.reflect.GeneratedMethodAccessor.invoke(Unknown Source)',
      'at com.shop.payments.PaymentController.pay(PaymentController.java)',
      'at java.base/java.lang.Thread.run(Thread.java)',
      'caused by java.net.SocketTimeoutException',
      'at java.base/sun.nio.ch.NioSocketImpl.timedRead(NioSocketImpl.java)',
    ]);
  });

  test('Java: a different call path is a different group', () => {
    const other = JAVA(1, 87, '1').replace('PaymentController.pay', 'RefundController.refund');
    assert.notEqual(
      exceptionFingerprint({ type: 'java.lang.IllegalStateException', stacktrace: JAVA(1, 87, '1') }),
      exceptionFingerprint({ type: 'java.lang.IllegalStateException', stacktrace: other }),
    );
  });

  test('Python: frames keep file and function, lose line numbers, code lines and install prefixes', () => {
    assert.deepEqual(normaliseFrames(PYTHON('alice', 3)), [
      'flask/app.py in full_dispatch_request',
      '/app/payments/service.py in charge',
      '/app/payments/gateway.py in submit',
    ]);
    assert.equal(
      exceptionFingerprint({ type: '', stacktrace: PYTHON('alice', 3) }),
      exceptionFingerprint({ type: '', stacktrace: PYTHON('bob-42', 7) }),
    );
    assert.equal(exceptionTypeFromStack(PYTHON('alice', 3)), 'payments.errors.CardDeclined');
  });

  test('Node: line:column, file:// URLs and bundle hashes are stripped', () => {
    assert.deepEqual(normaliseFrames(NODE('10.0.0.12', 16)), [
      'at TCPConnectWrap.afterConnect [as oncomplete] (node:net)',
      'at async PaymentService.charge (/app/dist/payments/service.js)',
      'at async /app/dist/server..js',
    ]);
    assert.equal(exceptionFingerprint({ type: 'Error', stacktrace: NODE('10.0.0.12', 16) }), exceptionFingerprint({ type: 'Error', stacktrace: NODE('10.9.8.7', 3) }));
    assert.equal(exceptionTypeFromStack(NODE('10.0.0.12', 16)), 'Error');
  });

  test('Go: pointers in arguments, goroutine numbers, positions and offsets are stripped', () => {
    assert.deepEqual(normaliseFrames(GO('0xc000010000', 42)), [
      'main.(*PaymentHandler).Charge()',
      '/app/payments/handler.go',
      'net/http.HandlerFunc.ServeHTTP()',
      '/usr/local/go/src/net/http/server.go',
      'created by net/http.(*Server).Serve in goroutine',
      '/usr/local/go/src/net/http/server.go',
    ]);
    assert.equal(exceptionFingerprint({ type: '', stacktrace: GO('0xc000010000', 42) }), exceptionFingerprint({ type: '', stacktrace: GO('0xc0000beef0', 57) }));
    assert.equal(exceptionTypeFromStack(GO('0x1', 1)), 'panic');
  });

  test('the type is part of the fingerprint, the message is not', () => {
    const stack = NODE('10.0.0.12', 16);
    assert.notEqual(exceptionFingerprint({ type: 'Error', stacktrace: stack }), exceptionFingerprint({ type: 'TypeError', stacktrace: stack }));
    assert.equal(exceptionFingerprint({ type: 'TimeoutError', stacktrace: '' }), exceptionFingerprint({ type: 'TimeoutError', stacktrace: '' }));
  });

  test('UUIDs and recursion depth do not split a group', () => {
    const frame = (id: string) => `at handler (/app/jobs/${id}.js:1:1)`;
    const deep = ['RangeError: Maximum call stack size exceeded', ...Array(40).fill('    at walk (/app/tree.js:10:3)'), frame('6f1c2b4e-9a7d-4c3e-8b2a-1d2e3f4a5b6c')].join('\n');
    const shallow = ['RangeError: Maximum call stack size exceeded', ...Array(7).fill('    at walk (/app/tree.js:12:3)'), frame('0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d')].join('\n');
    assert.deepEqual(normaliseFrames(deep), ['at walk (/app/tree.js)', 'at handler (/app/jobs/.js)']);
    assert.equal(exceptionFingerprint({ type: 'RangeError', stacktrace: deep }), exceptionFingerprint({ type: 'RangeError', stacktrace: shallow }));
  });
});
