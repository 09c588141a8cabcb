;; A plugin written by hand in WebAssembly text, from ABI.md alone: it
;; answers "echo" like the contract server (ack with the same arguments, or
;; emit "echo" back) and declines every other event.
(module
  (import "sio" "emit" (func $emit (param i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "sio" "ack" (func $ack (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "echo")

  (func (export "sio_abi_version") (result i32) (i32.const 1))

  ;; The input buffer starts at 1024; memory grows to hold n bytes.
  (func (export "sio_alloc") (param $n i32) (result i32)
    (local $need i32)
    (local.set $need (i32.add (i32.const 1024) (local.get $n)))
    (block $done
      (loop $grow
        (br_if $done (i32.le_u (local.get $need) (i32.mul (memory.size) (i32.const 65536))))
        (if (i32.lt_s (memory.grow (i32.const 1)) (i32.const 0))
          (then (return (i32.const 0))))
        (br $grow)))
    (i32.const 1024))

  ;; Event record: 16-byte header (kind, flags, ack id), then the fields
  ;; socket id, namespace, event name, arguments, then the attachments.
  (func (export "sio_event") (param $p i32) (param $n i32) (result i32)
    (local $end i32) (local $q i32) (local $flags i32)
    (local $name i32) (local $nameLen i32) (local $args i32) (local $argsLen i32)
    (local.set $end (i32.add (local.get $p) (local.get $n)))
    (local.set $flags (i32.load offset=4 (local.get $p)))
    (local.set $q (i32.add (local.get $p) (i32.const 16)))
    ;; skip the socket id and the namespace
    (local.set $q (i32.add (i32.add (local.get $q) (i32.const 4)) (i32.load (local.get $q))))
    (local.set $q (i32.add (i32.add (local.get $q) (i32.const 4)) (i32.load (local.get $q))))
    (local.set $nameLen (i32.load (local.get $q)))
    (local.set $name (i32.add (local.get $q) (i32.const 4)))
    (local.set $q (i32.add (local.get $name) (local.get $nameLen)))
    (local.set $argsLen (i32.load (local.get $q)))
    (local.set $args (i32.add (local.get $q) (i32.const 4)))
    (local.set $q (i32.add (local.get $args) (local.get $argsLen)))
    ;; not "echo": decline (1)
    (if (i32.ne (local.get $nameLen) (i32.const 4)) (then (return (i32.const 1))))
    (if (i32.ne (i32.load (local.get $name)) (i32.load (i32.const 16))) (then (return (i32.const 1))))
    (if (i32.and (local.get $flags) (i32.const 1))
      (then
        (drop (call $ack (local.get $args) (local.get $argsLen)
                         (local.get $q) (i32.sub (local.get $end) (local.get $q)))))
      (else
        (drop (call $emit (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 16) (i32.const 4)
                          (local.get $args) (local.get $argsLen)
                          (local.get $q) (i32.sub (local.get $end) (local.get $q))))))
    (i32.const 0))
)
