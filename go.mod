module github.com/sio-go/sio

go 1.26
