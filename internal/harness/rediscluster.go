package harness

import (
	"context"
	"path/filepath"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// StartRedisCluster starts redis-server as a Redis Cluster of one node
// serving every slot (a script then fails on keys of more than one slot,
// CROSSSLOT, as on any Cluster), stopped by PID at cleanup.
func StartRedisCluster(t T) *Redis {
	t.Helper()
	r := startRedis(t, "redis-cluster", func(dir string) []string {
		return []string{"--cluster-enabled", "yes", "--cluster-config-file", filepath.Join(dir, "nodes.conf")}
	})
	c := redis.NewClient(&redis.Options{Addr: r.Addr})
	defer c.Close()
	ctx := context.Background()
	for i := 0; ; i++ {
		err := c.Do(ctx, "CLUSTER", "ADDSLOTSRANGE", 0, 16383).Err()
		if err == nil || strings.Contains(err.Error(), "already busy") {
			break
		}
		if i > 500 {
			t.Fatalf("redis-server (cluster) did not start: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	for i := 0; ; i++ {
		info, _ := c.ClusterInfo(ctx).Result()
		if strings.Contains(info, "cluster_state:ok") {
			return r
		}
		if i > 500 {
			t.Fatalf("redis cluster not ok: %s", info)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
