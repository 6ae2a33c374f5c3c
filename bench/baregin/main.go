// Command baregin serves the baseline handler of package bare for bench/wrk.sh.
package main

import (
	"flag"
	"log"
	"net/http"
	"time"

	"github.com/profilevault/profilevault/bench/bare"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:18182", "listen address (loopback only)")
	flag.Parse()
	srv := &http.Server{Addr: *addr, Handler: bare.Handler(), ReadHeaderTimeout: 10 * time.Second}
	log.Fatal(srv.ListenAndServe())
}
