// A small Go client of the mesh, built on the code `buf generate` writes into gen/go: it signs
// in with a bearer token, places an order, watches it to CONFIRMED, and reads the
// google.rpc.BadRequest detail of an invalid request. tests/e2e/test_external_clients.py
// builds and runs it against the real services; it prints one JSON document of what it saw.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	orderv1 "github.com/oms-mesh/oms/gen/go/oms/order/v1"
)

type violation struct {
	Field       string `json:"field"`
	Description string `json:"description"`
}

type report struct {
	OrderID    string      `json:"order_id"`
	Statuses   []string    `json:"statuses"`
	Total      string      `json:"total"`
	BadCode    string      `json:"bad_request_code"`
	Violations []violation `json:"field_violations"`
}

func main() {
	address := flag.String("order-addr", "127.0.0.1:50051", "the order service's gRPC address")
	customer := flag.String("customer", "", "the customer to order for (the token's subject)")
	product := flag.String("product", "", "the product to order")
	quantity := flag.Int("quantity", 2, "how many units")
	flag.Parse()
	token := os.Getenv("OMS_TOKEN") // `oms token --sub <customer> --role customer` mints one in development
	if token == "" || *customer == "" || *product == "" {
		fail(errors.New("usage: OMS_TOKEN=... go run . -order-addr HOST:PORT -customer ID -product ID"))
	}
	out, err := run(*address, token, *customer, *product, int32(*quantity))
	if err != nil {
		fail(err)
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		fail(err)
	}
}

func run(address, token, customer, product string, quantity int32) (*report, error) {
	conn, err := grpc.NewClient(address, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	orders := orderv1.NewOrderServiceClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// The token signs every call in; PlaceOrder is idempotent on the idempotency-key, so a
	// retry after a lost response returns the same order.
	signed := metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token)
	placing := metadata.AppendToOutgoingContext(signed, "idempotency-key", fmt.Sprintf("go-%d", time.Now().UnixNano()))

	placed, err := orders.PlaceOrder(placing, &orderv1.PlaceOrderRequest{
		CustomerId: customer,
		Items:      []*orderv1.OrderLine{{ProductId: product, Quantity: quantity}},
	})
	if err != nil {
		return nil, fmt.Errorf("PlaceOrder: %w", err)
	}
	out := &report{OrderID: placed.GetOrder().GetOrderId()}
	total := placed.GetOrder().GetTotal()
	out.Total = fmt.Sprintf("%s %d.%09d", total.GetCurrencyCode(), total.GetUnits(), total.GetNanos())

	if out.Statuses, err = watchUntilConfirmed(signed, orders, out.OrderID); err != nil {
		return nil, err
	}
	out.BadCode, out.Violations, err = badRequest(signed, orders, customer)
	return out, err
}

// watchUntilConfirmed follows WatchOrder (first the current state, then every change) and
// returns the statuses seen; a final state other than CONFIRMED, or the stream's end, is an error.
func watchUntilConfirmed(ctx context.Context, orders orderv1.OrderServiceClient, orderID string) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel() // leaves the stream: the server sees the client go
	stream, err := orders.WatchOrder(ctx, &orderv1.WatchOrderRequest{OrderId: orderID})
	if err != nil {
		return nil, fmt.Errorf("WatchOrder: %w", err)
	}
	var seen []string
	for {
		reply, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return seen, fmt.Errorf("WatchOrder ended before CONFIRMED; saw %v", seen)
		}
		if err != nil {
			return seen, fmt.Errorf("WatchOrder: %w (saw %v)", err, seen)
		}
		current := reply.GetOrder().GetStatus()
		seen = append(seen, current.String())
		switch current {
		case orderv1.OrderStatus_ORDER_STATUS_CONFIRMED:
			return seen, nil
		case orderv1.OrderStatus_ORDER_STATUS_PENDING:
			continue
		default:
			return seen, fmt.Errorf("order %s became %s, not CONFIRMED", orderID, current)
		}
	}
}

// badRequest places an order with an empty product and a quantity of 0, and returns the status
// code and the field violations of the google.rpc.BadRequest in the error's details.
func badRequest(ctx context.Context, orders orderv1.OrderServiceClient, customer string) (string, []violation, error) {
	_, err := orders.PlaceOrder(ctx, &orderv1.PlaceOrderRequest{
		CustomerId: customer,
		Items:      []*orderv1.OrderLine{{ProductId: "", Quantity: 0}},
	})
	if err == nil {
		return "", nil, errors.New("an invalid PlaceOrder was accepted")
	}
	rpcStatus := status.Convert(err)
	var violations []violation
	for _, detail := range rpcStatus.Details() {
		if bad, ok := detail.(*errdetails.BadRequest); ok {
			for _, v := range bad.GetFieldViolations() {
				violations = append(violations, violation{v.GetField(), v.GetDescription()})
			}
		}
	}
	if rpcStatus.Code() != codes.InvalidArgument || len(violations) == 0 {
		return "", nil, fmt.Errorf("expected INVALID_ARGUMENT with a BadRequest, got %v", err)
	}
	return rpcStatus.Code().String(), violations, nil
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "oms go client:", err)
	os.Exit(1)
}
