;; A plugin that tries to get out of its sandbox (plugins/sandbox_test.go).
;; Each event is one attempt, chosen by the first byte of its name (the
;; second picks a variant). The results (WASI errnos, host function codes,
;; values) go back as one binary ack argument: little-endian i32s. An
;; attempt the host stops by ending the call gets the host's error ack.
;;
;;   n   network: WASI sockets and preopened descriptors
;;   c   clocks
;;   a   arguments, environment, stdin, proc_raise, bad WASI pointers, files
;;   x   proc_exit
;;   o1..o9  sio host functions with pointers or lengths outside memory
;;   p   ping: a normal call, answered 42
(module
  (import "wasi_snapshot_preview1" "sock_accept" (func $sock_accept (param i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "sock_recv" (func $sock_recv (param i32 i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "sock_send" (func $sock_send (param i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "sock_shutdown" (func $sock_shutdown (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_prestat_get" (func $fd_prestat_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "clock_time_get" (func $clock_time_get (param i32 i64 i32) (result i32)))
  (import "wasi_snapshot_preview1" "clock_res_get" (func $clock_res_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_sizes_get" (func $args_sizes_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_sizes_get" (func $environ_sizes_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_raise" (func $proc_raise (param i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (import "wasi_snapshot_preview1" "sched_yield" (func $sched_yield (result i32)))
  (import "wasi_snapshot_preview1" "random_get" (func $random_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_open"
    (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "sio" "emit" (func $emit (param i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "sio" "ack" (func $ack (param i32 i32 i32 i32) (result i32)))
  (import "sio" "join" (func $join (param i32 i32) (result i32)))
  (import "sio" "rooms" (func $rooms (param i32 i32) (result i32)))
  (import "sio" "data_get" (func $data_get (param i32 i32 i32 i32) (result i32)))
  (import "sio" "data_set" (func $data_set (param i32 i32 i32 i32) (result i32)))
  (import "sio" "config" (func $config (param i32 i32) (result i32)))
  (import "sio" "log" (func $log (param i32 i32 i32)))
  (memory (export "memory") 1)
  ;; [16,47): the ack's arguments, one binary placeholder
  (data (i32.const 16) "[{\22_placeholder\22:true,\22num\22:0}]")
  (data (i32.const 64) "etc/passwd")
  ;; [512,...): the attachment list, one field: u32 length at 512, results from 516
  ;; [1024,2048): scratch
  (global $count (mut i32) (i32.const 0))

  (func $r (param $v i32)
    (i32.store (i32.add (i32.const 516) (i32.mul (global.get $count) (i32.const 4))) (local.get $v))
    (global.set $count (i32.add (global.get $count) (i32.const 1))))

  (func (export "sio_abi_version") (result i32) (i32.const 1))
  (func (export "sio_alloc") (param $n i32) (result i32)
    (local $need i32)
    (local.set $need (i32.add (i32.const 4096) (local.get $n)))
    (block $done
      (loop $grow
        (br_if $done (i32.le_u (local.get $need) (i32.mul (memory.size) (i32.const 65536))))
        (if (i32.lt_s (memory.grow (i32.const 1)) (i32.const 0)) (then (return (i32.const 0))))
        (br $grow)))
    (i32.const 4096))

  (func $network
    (call $r (call $sock_accept (i32.const 3) (i32.const 0) (i32.const 1024)))
    (call $r (call $sock_accept (i32.const 0) (i32.const 0) (i32.const 1024)))
    ;; one iovec at 1032: 16 bytes at 1100
    (i32.store (i32.const 1032) (i32.const 1100))
    (i32.store (i32.const 1036) (i32.const 16))
    (call $r (call $sock_recv (i32.const 3) (i32.const 1032) (i32.const 1) (i32.const 0) (i32.const 1040) (i32.const 1044)))
    (call $r (call $sock_send (i32.const 3) (i32.const 1032) (i32.const 1) (i32.const 0) (i32.const 1040)))
    (call $r (call $sock_shutdown (i32.const 3) (i32.const 3)))
    (call $r (call $sock_recv (i32.const 1) (i32.const 1032) (i32.const 1) (i32.const 0) (i32.const 1040) (i32.const 1044)))
    (call $r (call $sock_send (i32.const 1) (i32.const 1032) (i32.const 1) (i32.const 0) (i32.const 1040)))
    ;; listeners would be preopened descriptors from 3 on
    (call $r (call $fd_prestat_get (i32.const 3) (i32.const 1024))))

  (func $clocks
    (call $r (call $clock_time_get (i32.const 0) (i64.const 1) (i32.const 1024)))
    (call $r (i32.load (i32.const 1024)))
    (call $r (i32.load (i32.const 1028)))
    (call $r (call $clock_time_get (i32.const 1) (i64.const 1) (i32.const 1032)))
    (call $r (i32.load (i32.const 1032)))
    (call $r (i32.load (i32.const 1036)))
    (call $r (call $clock_time_get (i32.const 2) (i64.const 1) (i32.const 1040)))
    (call $r (call $clock_time_get (i32.const 3) (i64.const 1) (i32.const 1040)))
    (call $r (call $clock_res_get (i32.const 0) (i32.const 1048)))
    (call $r (call $clock_time_get (i32.const 0) (i64.const 1) (i32.const 0xfffffffc))))

  (func $process
    (call $r (call $args_sizes_get (i32.const 1024) (i32.const 1028)))
    (call $r (i32.load (i32.const 1024)))
    (call $r (i32.load (i32.const 1028)))
    (call $r (call $environ_sizes_get (i32.const 1032) (i32.const 1036)))
    (call $r (i32.load (i32.const 1032)))
    (call $r (i32.load (i32.const 1036)))
    (i32.store (i32.const 1048) (i32.const 1100))
    (i32.store (i32.const 1052) (i32.const 16))
    (call $r (call $fd_read (i32.const 0) (i32.const 1048) (i32.const 1) (i32.const 1040)))
    (call $r (i32.load (i32.const 1040)))
    (call $r (call $proc_raise (i32.const 9)))
    (call $r (call $sched_yield))
    (call $r (call $fd_write (i32.const 1) (i32.const 0xfffffff0) (i32.const 1) (i32.const 1040)))
    (call $r (call $random_get (i32.const 0xfffffff0) (i32.const 64)))
    (call $r (call $path_open (i32.const 3) (i32.const 0) (i32.const 64) (i32.const 10) (i32.const 0)
                              (i64.const -1) (i64.const -1) (i32.const 0) (i32.const 1024))))

  ;; sio host functions with pointers or lengths outside the guest's memory
  (func $outOfRange (param $v i32)
    (local $size i32)
    (local.set $size (i32.mul (memory.size) (i32.const 65536)))
    (if (i32.eq (local.get $v) (i32.const 0x31)) ;; '1': the event name far out
      (then (call $r (call $emit (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0xffffff00) (i32.const 16)
                                 (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0)))))
    (if (i32.eq (local.get $v) (i32.const 0x32)) ;; '2': arguments straddling the end
      (then (call $r (call $ack (i32.sub (local.get $size) (i32.const 4)) (i32.const 100) (i32.const 0) (i32.const 0)))))
    (if (i32.eq (local.get $v) (i32.const 0x33)) ;; '3': a 4 GiB value
      (then (call $r (call $data_set (i32.const 64) (i32.const 3) (i32.const 16) (i32.const 0xffffffff)))))
    (if (i32.eq (local.get $v) (i32.const 0x34)) ;; '4': an output buffer out of memory
      (then (call $r (call $rooms (i32.const 0xfffffff0) (i32.const 4096)))))
    (if (i32.eq (local.get $v) (i32.const 0x35)) ;; '5': an output buffer just past the end
      (then (call $r (call $config (local.get $size) (i32.const 100)))))
    (if (i32.eq (local.get $v) (i32.const 0x36)) ;; '6': a log message out of memory
      (then (call $log (i32.const 1) (i32.const 0x7fffffff) (i32.const 10)) (call $r (i32.const 0))))
    (if (i32.eq (local.get $v) (i32.const 0x37)) ;; '7': pointer + length wrapping around 2^32
      (then (call $r (call $join (i32.const 0xffffffff) (i32.const 2)))))
    (if (i32.eq (local.get $v) (i32.const 0x38)) ;; '8': in memory, but a rooms list whose field claims 4 GiB
      (then
        (i32.store (i32.const 1024) (i32.const 0xffffff00))
        (call $r (call $emit (i32.const 1) (i32.const 1024) (i32.const 8) (i32.const 64) (i32.const 3)
                             (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0)))))
    (if (i32.eq (local.get $v) (i32.const 0x39)) ;; '9': a stored value read into a buffer out of memory
      (then
        (drop (call $data_set (i32.const 64) (i32.const 3) (i32.const 64) (i32.const 3)))
        (call $r (call $data_get (i32.const 64) (i32.const 3) (i32.const 0xfffffff0) (i32.const 100))))))

  (func (export "sio_event") (param $p i32) (param $n i32) (result i32)
    (local $q i32) (local $name i32) (local $nameLen i32) (local $c i32) (local $v i32)
    (local.set $q (i32.add (local.get $p) (i32.const 16)))
    (local.set $q (i32.add (i32.add (local.get $q) (i32.const 4)) (i32.load (local.get $q)))) ;; socket id
    (local.set $q (i32.add (i32.add (local.get $q) (i32.const 4)) (i32.load (local.get $q)))) ;; namespace
    (local.set $nameLen (i32.load (local.get $q)))
    (local.set $name (i32.add (local.get $q) (i32.const 4)))
    (if (i32.eqz (local.get $nameLen)) (then (return (i32.const 1))))
    (local.set $c (i32.load8_u (local.get $name)))
    (if (i32.gt_u (local.get $nameLen) (i32.const 1))
      (then (local.set $v (i32.load8_u offset=1 (local.get $name)))))
    (global.set $count (i32.const 0))
    (block $known
      (if (i32.eq (local.get $c) (i32.const 0x6e)) (then (call $network) (br $known)))     ;; n
      (if (i32.eq (local.get $c) (i32.const 0x63)) (then (call $clocks) (br $known)))      ;; c
      (if (i32.eq (local.get $c) (i32.const 0x61)) (then (call $process) (br $known)))     ;; a
      (if (i32.eq (local.get $c) (i32.const 0x78)) (then (call $proc_exit (i32.const 0)))) ;; x
      (if (i32.eq (local.get $c) (i32.const 0x6f)) (then (call $outOfRange (local.get $v)) (br $known))) ;; o
      (if (i32.eq (local.get $c) (i32.const 0x70)) (then (call $r (i32.const 42)) (br $known))) ;; p
      (return (i32.const 1)))
    (i32.store (i32.const 512) (i32.mul (global.get $count) (i32.const 4)))
    (drop (call $ack (i32.const 16) (i32.const 31)
                     (i32.const 512) (i32.add (i32.const 4) (i32.mul (global.get $count) (i32.const 4)))))
    (i32.const 0))
)
