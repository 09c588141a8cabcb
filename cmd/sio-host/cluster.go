package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/redis/go-redis/v9"

	sio "github.com/sio-go/sio"
	"github.com/sio-go/sio/adapter/redisadapter"
)

var redisFlag = flag.String("redis", "", "Redis URL (redis://host:port/db): join a cluster of nodes, Go or Node.js (@socket.io/redis-adapter compatible); default $REDIS_URL")

// cluster is the host's Redis adapter, when -redis or REDIS_URL names one.
type cluster struct {
	a   *redisadapter.Adapter
	rdb *redis.Client
}

func newCluster(log *slog.Logger) (*cluster, error) {
	url := *redisFlag
	if url == "" {
		url = os.Getenv("REDIS_URL")
	}
	if url == "" {
		return &cluster{}, nil
	}
	opts, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("-redis: %w", err)
	}
	rdb := redis.NewClient(opts)
	return &cluster{a: redisadapter.New(rdb, &redisadapter.Options{Logger: log}), rdb: rdb}, nil
}

// adapter is the value for sio.ServerOptions.Adapter (nil: a single node).
func (c *cluster) adapter() sio.Adapter {
	if c.a == nil {
		return nil
	}
	return c.a
}

// sync waits until the namespaces are subscribed on Redis.
func (c *cluster) sync() error {
	if c.a == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := c.a.Sync(ctx); err != nil {
		return fmt.Errorf("redis: %w", err)
	}
	return nil
}

func (c *cluster) close() {
	if c.a != nil {
		_ = c.a.Close()
		_ = c.rdb.Close()
	}
}
