// Package inproc is what the in-process load benchmarks (bench/load, bench/pgnodes, bench/rotation) share:
// seeding synthetic subjects through the enforcement point and serving an app on a loopback port.
package inproc

import (
	"context"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/profilevault/profilevault/internal/app"
	"github.com/profilevault/profilevault/internal/synth"
	"github.com/profilevault/profilevault/policies"
	"github.com/profilevault/profilevault/vault"
)

// Seed creates n synthetic subjects (synth.Profiles, seed 7) through the enforcement point, on workers
// goroutines, as a data steward; it returns their ids in profile order.
func Seed(ctx context.Context, a *app.App, n, workers int) ([]string, error) {
	acc := vault.Access{Caller: vault.Caller{Subject: "load-seeder", Roles: []policies.Role{policies.RoleDataSteward}}, Purpose: policies.PurposeAccountManagement}
	profiles := synth.Profiles(7, n, time.Now())
	ids := make([]string, n)
	var wg sync.WaitGroup
	var next atomic.Int64
	var firstErr atomic.Value
	for range workers {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < n; i = int(next.Add(1)) - 1 {
				f := map[string]*string{}
				for k, v := range profiles[i].Fields {
					f[k] = &v
				}
				c, err := a.Vault.Profiles().Create(ctx, acc, vault.NewSubject{Fields: f})
				if err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
				ids[i] = c.ID
			}
		})
	}
	wg.Wait()
	if err, _ := firstErr.Load().(error); err != nil {
		return nil, err
	}
	return ids, nil
}

// Listen serves h on a free loopback port; it returns the base URL and a function that stops the server.
func Listen(h http.Handler) (base string, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	return "http://" + ln.Addr().String(), func() { srv.Close() }, nil
}
