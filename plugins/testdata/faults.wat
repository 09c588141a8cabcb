;; Misbehaving plugin for the host's tests. Events (by their 4-byte name):
;; ping: acks "pong"; loop: loops forever; trap: executes unreachable;
;; bomb: grows memory until refused, then traps; spam: emits 60 KB at a
;; time until stopped; rude: emits to this socket and acks "rude", then
;; traps (its effects must be dropped).
(module
  (import "sio" "emit" (func $emit (param i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "sio" "ack" (func $ack (param i32 i32 i32 i32) (result i32)))
  (import "sio" "log" (func $log (param i32 i32 i32)))
  (memory (export "memory") 2)
  (data (i32.const 16) "pingloopbombtrapspamrude")
  (data (i32.const 64) "[\"pong\"]")  ;; 8 bytes
  (data (i32.const 80) "[\"rude\"]")  ;; 8 bytes
  (data (i32.const 96) "spam")
  (data (i32.const 112) "going to misbehave")  ;; 18 bytes

  (func (export "sio_abi_version") (result i32) (i32.const 1))
  (func (export "sio_alloc") (param $n i32) (result i32)
    (if (i32.gt_u (local.get $n) (i32.const 60000)) (then (return (i32.const 0))))
    (i32.const 1024))

  (func $spam
    ;; ["xxx...x"] of 60002 bytes at 65536
    (i32.store8 (i32.const 65536) (i32.const 91))        ;; [
    (i32.store8 (i32.const 65537) (i32.const 34))        ;; "
    (memory.fill (i32.const 65538) (i32.const 120) (i32.const 59996))
    (i32.store8 (i32.const 125534) (i32.const 34))       ;; "
    (i32.store8 (i32.const 125535) (i32.const 93))       ;; ]
    (loop $again
      (drop (call $emit (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 96) (i32.const 4)
                        (i32.const 65536) (i32.const 60000) (i32.const 0) (i32.const 0)))
      (br $again)))

  (func (export "sio_event") (param $p i32) (param $n i32) (result i32)
    (local $q i32) (local $name i32)
    (local.set $q (i32.add (local.get $p) (i32.const 16)))
    (local.set $q (i32.add (i32.add (local.get $q) (i32.const 4)) (i32.load (local.get $q))))
    (local.set $q (i32.add (i32.add (local.get $q) (i32.const 4)) (i32.load (local.get $q))))
    (if (i32.ne (i32.load (local.get $q)) (i32.const 4)) (then (return (i32.const 1))))
    (local.set $name (i32.load offset=4 (local.get $q)))
    (if (i32.eq (local.get $name) (i32.load (i32.const 16)))          ;; ping
      (then
        (drop (call $ack (i32.const 64) (i32.const 8) (i32.const 0) (i32.const 0)))
        (return (i32.const 0))))
    (call $log (i32.const 2) (i32.const 112) (i32.const 18))
    (if (i32.eq (local.get $name) (i32.load (i32.const 20)))          ;; loop
      (then (loop $forever (br $forever))))
    (if (i32.eq (local.get $name) (i32.load (i32.const 24)))          ;; bomb
      (then
        (loop $grow
          (br_if $grow (i32.ge_s (memory.grow (i32.const 4)) (i32.const 0))))
        (unreachable)))
    (if (i32.eq (local.get $name) (i32.load (i32.const 28)))          ;; trap
      (then (unreachable)))
    (if (i32.eq (local.get $name) (i32.load (i32.const 32)))          ;; spam
      (then (call $spam)))
    (if (i32.eq (local.get $name) (i32.load (i32.const 36)))          ;; rude
      (then
        (drop (call $emit (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 80) (i32.const 4)
                          (i32.const 80) (i32.const 8) (i32.const 0) (i32.const 0)))
        (drop (call $ack (i32.const 80) (i32.const 8) (i32.const 0) (i32.const 0)))
        (unreachable)))
    (i32.const 1))
)
