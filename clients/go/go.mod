// A small Go client of the mesh (main.go). Its contract packages are the ones `buf generate`
// writes into gen/go; everything else comes from the Go module proxy, checked against go.sum.
module oms.mesh/clients/go

go 1.26.0

require (
	github.com/oms-mesh/oms/gen/go v0.0.0
	google.golang.org/genproto/googleapis/rpc v0.0.0-20261110000943-09e21b237f2c
	google.golang.org/grpc v1.85.0
)

require (
	golang.org/x/net v0.60.0 // indirect
	golang.org/x/sys v0.48.0 // indirect
	golang.org/x/text v0.42.0 // indirect
	google.golang.org/genproto v0.0.0-20261026165753-2ffab32bce7e // indirect
	google.golang.org/genproto/googleapis/api v0.0.0-20261019180522-ce908d29299b // indirect
	google.golang.org/protobuf v1.36.12 // indirect
)

replace github.com/oms-mesh/oms/gen/go => ../../gen/go
