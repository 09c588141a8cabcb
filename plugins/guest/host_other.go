//go:build !wasip1

package guest

// Outside GOOS=wasip1 the host's functions are served by FakeHost, so that
// the SDK (and a plugin's handlers) can be unit-tested natively.

// FakeHost records what a plugin asks of the host, for native tests. Set
// the package's Host variable to one and call Dispatch*.
type FakeHost struct {
	Emits  []FakeEmit
	Acks   []FakeEmit
	Joins  []string
	Leaves []string
	Logs   []string
	// Subscribed lists the events registered at init.
	Subscribed []string
	// Disconnected is 1 after Disconnect(false), 2 after Disconnect(true).
	Disconnected int
	RoomList     []string
	Data         map[string][]byte
	Conf         []byte
	Refusal      *ConnectError
}

// FakeEmit is one recorded emit or ack.
type FakeEmit struct {
	Target      int32
	Rooms       []string
	Event       string
	Args        string
	Attachments [][]byte
}

// Host serves the host functions in native builds.
var Host = &FakeHost{}

func listFields(b []byte) [][]byte {
	var out [][]byte
	for len(b) > 0 {
		f, rest, ok := nextField(b)
		if !ok {
			return out
		}
		out = append(out, append([]byte(nil), f...))
		b = rest
	}
	return out
}

func hostEmit(target int32, rooms, event, args, atts []byte) int32 {
	var rs []string
	for _, r := range listFields(rooms) {
		rs = append(rs, string(r))
	}
	Host.Emits = append(Host.Emits, FakeEmit{Target: target, Rooms: rs, Event: string(event), Args: string(args), Attachments: listFields(atts)})
	return 0
}

func hostAck(args, atts []byte) int32 {
	Host.Acks = append(Host.Acks, FakeEmit{Args: string(args), Attachments: listFields(atts)})
	return 0
}

func hostJoin(room []byte) int32 {
	Host.Joins = append(Host.Joins, string(room))
	return 0
}

func hostLeave(room []byte) int32 {
	Host.Leaves = append(Host.Leaves, string(room))
	return 0
}

func hostDisconnect(close int32) int32 {
	Host.Disconnected = 1 + int(close)
	return 0
}

func hostRooms(buf []byte) int32 {
	out := []byte{'['}
	for i, r := range Host.RoomList {
		if i > 0 {
			out = append(out, ',')
		}
		out = appendString(out, r)
	}
	out = append(out, ']')
	return copyOut(buf, out)
}

func copyOut(buf, v []byte) int32 {
	if len(v) <= len(buf) {
		copy(buf, v)
	}
	return int32(len(v))
}

func hostConfig(buf []byte) int32 {
	if Host.Conf == nil {
		return copyOut(buf, []byte("null"))
	}
	return copyOut(buf, Host.Conf)
}

func hostSubscribe(event []byte) int32 {
	Host.Subscribed = append(Host.Subscribed, string(event))
	return 0
}

func hostLog(level int32, msg []byte) { Host.Logs = append(Host.Logs, string(msg)) }

func hostDataGet(key, buf []byte) int32 {
	v, ok := Host.Data[string(key)]
	if !ok {
		return -3
	}
	return copyOut(buf, v)
}

func hostDataSet(key, val []byte) int32 {
	if Host.Data == nil {
		Host.Data = map[string][]byte{}
	}
	if len(val) == 0 {
		delete(Host.Data, string(key))
	} else {
		Host.Data[string(key)] = append([]byte(nil), val...)
	}
	return 0
}

func hostRefuse(msg, data []byte) int32 {
	Host.Refusal = &ConnectError{Message: string(msg), Data: append(JSON(nil), data...)}
	return 0
}

// Init runs the plugin's init as the host's sio_init would and returns the
// hook mask.
func Init() int32 { return runInit() }

// DispatchEvent delivers an event as the host's sio_event would and returns
// the guest's answer (0 handled, 1 declined). args is the JSON array.
func DispatchEvent(socketID, nsp, event, args string, ackID int64, attachments ...[]byte) int32 {
	var flags uint32
	var id uint64
	if ackID >= 0 {
		flags, id = 1, uint64(ackID)
	}
	return handleEvent(EncodeRecord(kindEvent, flags, id, []string{socketID, nsp, event, args}, attachments))
}

// DispatchConnect delivers a connect as sio_connect would (0 accept, 1 refuse).
func DispatchConnect(socketID, nsp, handshake string) int32 {
	return handleConnect(EncodeRecord(kindConnect, 0, 0, []string{socketID, nsp, handshake}, nil))
}

// DispatchDisconnect delivers a disconnect as sio_disconnect would.
func DispatchDisconnect(socketID, nsp, reason string) {
	handleDisconnect(EncodeRecord(kindDisconnect, 0, 0, []string{socketID, nsp, reason}, nil))
}

// EncodeRecord builds an input record (ABI.md, "Input records").
func EncodeRecord(kind, flags uint32, ackID uint64, fields []string, tail [][]byte) []byte {
	b := make([]byte, headerLen, 64)
	putU32(b, kind)
	putU32(b[4:], flags)
	putU32(b[8:], uint32(ackID))
	putU32(b[12:], uint32(ackID>>32))
	for _, f := range fields {
		b = appendField(b, []byte(f))
	}
	for _, t := range tail {
		b = appendField(b, t)
	}
	return b
}

func putU32(b []byte, v uint32) {
	b[0], b[1], b[2], b[3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
}
