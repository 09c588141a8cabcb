//go:build wasip1

package guest

import "unsafe"

// The host's functions (module "sio", see ABI.md). Each slice crosses as a
// pointer and a length into this module's memory.

//go:wasmimport sio emit
func sioEmit(target int32, rooms unsafe.Pointer, roomsLen uint32, event unsafe.Pointer, eventLen uint32,
	args unsafe.Pointer, argsLen uint32, atts unsafe.Pointer, attsLen uint32) int32

//go:wasmimport sio ack
func sioAck(args unsafe.Pointer, argsLen uint32, atts unsafe.Pointer, attsLen uint32) int32

//go:wasmimport sio join
func sioJoin(room unsafe.Pointer, roomLen uint32) int32

//go:wasmimport sio leave
func sioLeave(room unsafe.Pointer, roomLen uint32) int32

//go:wasmimport sio disconnect
func sioDisconnect(close int32) int32

//go:wasmimport sio rooms
func sioRooms(buf unsafe.Pointer, bufCap uint32) int32

//go:wasmimport sio data_get
func sioDataGet(key unsafe.Pointer, keyLen uint32, buf unsafe.Pointer, bufCap uint32) int32

//go:wasmimport sio data_set
func sioDataSet(key unsafe.Pointer, keyLen uint32, val unsafe.Pointer, valLen uint32) int32

//go:wasmimport sio config
func sioConfig(buf unsafe.Pointer, bufCap uint32) int32

//go:wasmimport sio log
func sioLog(level int32, msg unsafe.Pointer, msgLen uint32)

//go:wasmimport sio refuse
func sioRefuse(msg unsafe.Pointer, msgLen uint32, data unsafe.Pointer, dataLen uint32) int32

//go:wasmimport sio subscribe
func sioSubscribe(event unsafe.Pointer, eventLen uint32) int32

func p(b []byte) (unsafe.Pointer, uint32) { return unsafe.Pointer(unsafe.SliceData(b)), uint32(len(b)) }

func hostEmit(target int32, rooms, event, args, atts []byte) int32 {
	rp, rn := p(rooms)
	ep, en := p(event)
	ap, an := p(args)
	tp, tn := p(atts)
	return sioEmit(target, rp, rn, ep, en, ap, an, tp, tn)
}

func hostAck(args, atts []byte) int32 {
	ap, an := p(args)
	tp, tn := p(atts)
	return sioAck(ap, an, tp, tn)
}

func hostJoin(room []byte) int32       { return sioJoin(p(room)) }
func hostLeave(room []byte) int32      { return sioLeave(p(room)) }
func hostDisconnect(close int32) int32 { return sioDisconnect(close) }
func hostRooms(buf []byte) int32       { return sioRooms(p(buf)) }
func hostConfig(buf []byte) int32      { return sioConfig(p(buf)) }
func hostSubscribe(event []byte) int32 { return sioSubscribe(p(event)) }
func hostLog(level int32, msg []byte)  { mp, mn := p(msg); sioLog(level, mp, mn) }
func hostDataGet(key, buf []byte) int32 {
	kp, kn := p(key)
	bp, bn := p(buf)
	return sioDataGet(kp, kn, bp, bn)
}
func hostDataSet(key, val []byte) int32 {
	kp, kn := p(key)
	vp, vn := p(val)
	return sioDataSet(kp, kn, vp, vn)
}
func hostRefuse(msg, data []byte) int32 {
	mp, mn := p(msg)
	dp, dn := p(data)
	return sioRefuse(mp, mn, dp, dn)
}

// The guest's exports.

// input is the buffer the host writes each hook's input record into.
var input []byte

//go:wasmexport sio_abi_version
func exportABIVersion() int32 { return ABIVersion }

//go:wasmexport sio_alloc
func exportAlloc(size int32) unsafe.Pointer {
	if size < 0 {
		return nil
	}
	if cap(input) < int(size) {
		input = make([]byte, size)
	}
	input = input[:cap(input)]
	return unsafe.Pointer(unsafe.SliceData(input))
}

func in(ptr unsafe.Pointer, n int32) []byte {
	if n <= 0 || n > int32(len(input)) || ptr != unsafe.Pointer(unsafe.SliceData(input)) {
		return unsafe.Slice((*byte)(ptr), max(n, 0))
	}
	return input[:n]
}

//go:wasmexport sio_init
func exportInit() int32 { return runInit() }

//go:wasmexport sio_connect
func exportConnect(ptr unsafe.Pointer, n int32) int32 { return handleConnect(in(ptr, n)) }

//go:wasmexport sio_event
func exportEvent(ptr unsafe.Pointer, n int32) int32 { return handleEvent(in(ptr, n)) }

//go:wasmexport sio_disconnect
func exportDisconnect(ptr unsafe.Pointer, n int32) { handleDisconnect(in(ptr, n)) }
