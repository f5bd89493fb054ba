package store_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/drover-dev/drover/internal/etcdtest"
	v1 "github.com/drover-dev/drover/pkg/api/drover/v1"
	"github.com/drover-dev/drover/pkg/store"
)

// TestTxnSizeB1: a transaction counts the bytes it writes, says it is full
// past MaxTxnBytes, and one over etcd's request limit is refused with
// ErrTooLarge before it is sent (SPEC B1; issue 13 #4: etcd's own answer
// was a debug-level "trying to send message larger than max").
func TestTxnSizeB1(t *testing.T) {
	cli, _ := etcdtest.Start(t)
	st := store.New(cli)
	pod := func(name string, n int) *v1.Pod {
		return &v1.Pod{Metadata: &v1.ObjectMeta{Name: name, Namespace: "default"},
			Spec: &v1.PodSpec{NodeName: "n1", Containers: []*v1.Container{{Name: "c", Env: []*v1.EnvVar{{Name: "X", Value: strings.Repeat("x", n)}}}}}}
	}
	tx := st.Txn()
	for i := 0; !tx.Full(); i++ {
		tx.Create(pod("p"+string(rune('a'+i)), 200<<10))
	}
	if tx.Len() != 4 || tx.Bytes() < store.MaxTxnBytes || tx.Bytes() > store.MaxTxnBytes+(210<<10) {
		t.Fatalf("full after %d ops, %d bytes", tx.Len(), tx.Bytes())
	}
	if _, err := tx.Commit(context.Background()); err != nil {
		t.Fatalf("a full transaction is within etcd's limit: %v", err)
	}
	_, err := st.Txn().Create(pod("huge", store.MaxRequestBytes)).Commit(context.Background())
	if !errors.Is(err, store.ErrTooLarge) {
		t.Fatalf("over the limit: %v", err)
	}
}
