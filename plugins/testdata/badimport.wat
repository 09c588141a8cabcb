;; A plugin that asks for a host function the host does not offer.
(module
  (import "env" "system" (func $system (param i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "sio_abi_version") (result i32) (i32.const 1))
  (func (export "sio_alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "sio_event") (param i32 i32) (result i32) (drop (call $system (i32.const 0))) (i32.const 0))
)
