// The Go packages `buf generate` writes beside this file (buf.gen.yaml): one per contract
// package, github.com/oms-mesh/oms/gen/go/oms/<service>/v1 (orderv1, inventoryv1, …). Only this
// file is committed; a module that uses the packages requires google.golang.org/protobuf,
// google.golang.org/grpc and google.golang.org/genproto/googleapis/{api,type} itself
// (clients/go/go.mod does).
module github.com/oms-mesh/oms/gen/go

go 1.24
