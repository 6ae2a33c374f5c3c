package httpapi_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/profilevault/profilevault/internal/apptest"
	"github.com/profilevault/profilevault/vault"
)

// TestConcurrentRotationsNeverLoseAKey fires 50 key rotations at once while subjects are created, read,
// erased and have their consents changed. Every rotation answers 200 or 409 rotation_in_progress, nothing
// answers 500, and afterwards — and after a restart — every subject that was not erased decrypts, every
// stored DEK unwraps, and no DEK is wrapped under a retired version.
func TestConcurrentRotationsNeverLoseAKey(t *testing.T) {
	s := apptest.Start(t)
	steward := s.Token("steward", "data_steward")
	cs := s.Token("cs", "customer_service")
	admin := s.Token("root", "admin")

	var mu sync.Mutex
	names := map[string]string{} // live subject → name
	erased := map[string]bool{}
	add := func(id, name string) { mu.Lock(); names[id] = name; mu.Unlock() }
	for i := 0; i < 40; i++ {
		name := fmt.Sprintf("预置%d", i)
		add(s.CreateSubject(map[string]any{"name": name, "phone": fmt.Sprintf("+86137%08d", i), "birth_date": "1985-06-07"}), name)
	}
	pick := func(i int) (string, string, bool) {
		mu.Lock()
		defer mu.Unlock()
		if len(names) == 0 {
			return "", "", false
		}
		i %= len(names)
		for id, n := range names {
			if i--; i < 0 {
				return id, n, true
			}
		}
		return "", "", false
	}

	// The rotations go on until every kind of change has happened often enough beside them.
	var creates, reads, consents, erasures atomic.Int64
	enough := func() bool {
		return creates.Load() >= 60 && reads.Load() >= 300 && consents.Load() >= 60 && erasures.Load() >= 10
	}
	var failures sync.Map
	fail := func(what string, r apptest.Response) {
		failures.Store(fmt.Sprintf("%s: %d %s", what, r.Status, r.Body), true)
	}
	stop := make(chan struct{})
	var workers sync.WaitGroup
	worker := func(fn func(i int)) {
		workers.Add(1)
		go func() {
			defer workers.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				fn(i)
			}
		}()
	}
	worker(func(i int) { // creates
		name := fmt.Sprintf("新建%d", i)
		r := s.Do("POST", "/v1/subjects", steward, "account_management",
			map[string]any{"fields": map[string]any{"name": name, "city": "杭州", "birth_date": "1985-06-07"}})
		if r.Status != http.StatusCreated {
			fail("create", r)
			return
		}
		add(r.JSON["id"].(string), name)
		creates.Add(1)
	})
	for w := 0; w < 2; w++ {
		worker(func(i int) { // reads
			id, name, ok := pick(i*7 + w)
			if !ok {
				return
			}
			r := s.Do("GET", "/v1/subjects/"+id+"?fields=name", cs, "customer_service", nil)
			reads.Add(1)
			mu.Lock()
			gone := erased[id]
			mu.Unlock()
			switch {
			case r.Status == http.StatusNotFound && gone:
			case r.Status != http.StatusOK:
				fail("read", r)
			case r.JSON["fields"].(map[string]any)["name"] != name:
				fail("read returned another name", r)
			}
		})
	}
	worker(func(i int) { // consent changes
		id, _, ok := pick(i % 40)
		if !ok {
			return
		}
		consents.Add(1)
		if i%2 == 0 {
			r := s.Do("POST", "/v1/subjects/"+id+"/consents", steward, "account_management", grantBody("marketing", nil))
			if r.Status != http.StatusCreated && r.Status != http.StatusOK && r.Status != http.StatusNotFound {
				fail("grant", r)
			}
			return
		}
		r := s.Do("DELETE", "/v1/subjects/"+id+"/consents/marketing", steward, "account_management", nil)
		if r.Status != http.StatusOK && r.Status != http.StatusNotFound {
			fail("withdraw", r)
		}
	})
	worker(func(i int) { // erasures, one in three turns
		if i%3 != 0 {
			return
		}
		id, _, ok := pick(i % 17)
		if !ok {
			return
		}
		mu.Lock()
		delete(names, id)
		erased[id] = true
		mu.Unlock()
		if r := s.Do("DELETE", "/v1/subjects/"+id, steward, "account_management", nil); r.Status != http.StatusOK {
			fail("erase", r)
		}
		erasures.Add(1)
	})

	// 50 concurrent rotators, released together, each rotating again (after a short pause) until the
	// changes are done, for at most 30 s.
	const rotators = 50
	deadline := time.Now().Add(30 * time.Second)
	start := make(chan struct{})
	statuses := make(chan apptest.Response, 1024)
	var rot sync.WaitGroup
	for i := 0; i < rotators; i++ {
		rot.Add(1)
		go func() {
			defer rot.Done()
			<-start
			for n := 0; n == 0 || (!enough() && time.Now().Before(deadline)); n++ {
				statuses <- s.Do("POST", "/v1/keys/rotate", admin, "", nil)
				time.Sleep(20 * time.Millisecond)
			}
		}()
	}
	var counted sync.WaitGroup
	ok, busy := 0, 0
	counted.Add(1)
	go func() {
		defer counted.Done()
		for r := range statuses {
			switch {
			case r.Status == http.StatusOK:
				ok++
			case r.Status == http.StatusConflict && r.ErrorCode() == string(vault.CodeRotationInProgress):
				busy++
				// The refusal names the running job where it knows it, never a placeholder.
				job, _ := r.JSON["error"].(map[string]any)["job_id"].(string)
				if strings.Contains(string(r.Body), "{job}") || job != "" && !strings.Contains(string(r.Body), "/v1/jobs/"+job) {
					t.Errorf("409 without the running job: %s", r.Body)
				}
			default:
				t.Errorf("rotation answered %d %s, want 200 or 409 rotation_in_progress", r.Status, r.Body)
			}
		}
	}()
	close(start)
	rot.Wait()
	close(statuses)
	counted.Wait()
	close(stop)
	workers.Wait()
	if !enough() {
		t.Errorf("the changes beside the rotations did not all happen in time")
	}
	if ok == 0 {
		t.Fatalf("no rotation succeeded (%d refused)", busy)
	}
	t.Logf("%d rotations done, %d refused as in progress, beside %d creates, %d reads, %d consent changes, %d erasures",
		ok, busy, creates.Load(), reads.Load(), consents.Load(), erasures.Load())
	failures.Range(func(k, _ any) bool { t.Error(k); return true })

	check := func(when string) {
		t.Helper()
		rep, ran := s.App.Vault.Keys().LastKeyReport()
		if !ran || !rep.OK() || rep.DEKs == 0 {
			t.Fatalf("%s: key check %+v (ran %v), want every DEK to unwrap", when, rep, ran)
		}
		assertNoDEKUnderRetiredKEK(t, s)
		for id, name := range names {
			r := s.Do("GET", "/v1/subjects/"+id+"?fields=name", cs, "customer_service", nil)
			if r.Status != http.StatusOK || r.JSON["fields"].(map[string]any)["name"] != name {
				t.Errorf("%s: subject %s: %d %s", when, id, r.Status, r.Body)
			}
		}
		for id := range erased {
			if r := s.Do("GET", "/v1/subjects/"+id+"?fields=name", cs, "customer_service", nil); r.Status != http.StatusNotFound {
				t.Errorf("%s: erased subject %s: %d", when, id, r.Status)
			}
		}
		if r := s.Do("GET", "/v1/audit/verify", admin, "", nil); r.Status != http.StatusOK || r.JSON["ok"] != true {
			t.Errorf("%s: audit verify: %d %s", when, r.Status, r.Body)
		}
	}
	check("after the rotations")
	s.Restart()
	check("after a restart")
	if r := s.Do("POST", "/v1/keys/rotate", admin, "", nil); r.Status != http.StatusOK {
		t.Fatalf("rotation after restart: %d %s", r.Status, r.Body)
	}
	check("after one more rotation")
}

// assertNoDEKUnderRetiredKEK reads every stored DEK and fails if one names a retired or unknown version.
func assertNoDEKUnderRetiredKEK(t *testing.T, s *apptest.Stack) {
	t.Helper()
	states := map[uint32]vault.KEKState{}
	for _, k := range s.App.Internals().Crypto.KEKs() {
		states[k.Version] = k
	}
	err := s.App.Internals().Store.DEKs(t.Context(), func(d vault.DEK) error {
		k, known := states[d.KEKVersion]
		if !known || k.RetiredAt != nil {
			return fmt.Errorf("a DEK is wrapped under KEK version %d (known %v, state %+v)", d.KEKVersion, known, k)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestRotationJobAndKeyStatus follows an asynchronous rotation through GET /v1/jobs/{id} and GET /v1/keys,
// and checks that only admins may start or follow one, each attempt audited.
func TestRotationJobAndKeyStatus(t *testing.T) {
	s := apptest.Start(t)
	for i := 0; i < 5; i++ {
		s.CreateSubject(map[string]any{"name": fmt.Sprintf("甲%d", i)})
	}
	admin := s.Token("root", "admin")
	if r := s.Do("POST", "/v1/keys/rotate?async=maybe", admin, "", nil); r.Status != http.StatusBadRequest { // it ran a rotation
		t.Fatalf("async=maybe: %d %s", r.Status, r.Body)
	}
	r := s.Do("POST", "/v1/keys/rotate?async=true", admin, "", nil)
	if r.Status != http.StatusAccepted {
		t.Fatalf("async rotate: %d %s", r.Status, r.Body)
	}
	id := r.JSON["job_id"].(string)
	var st apptest.Response
	for i := 0; i < 500; i++ {
		if st = s.Do("GET", "/v1/jobs/"+id, admin, "", nil); st.Status != http.StatusOK || st.JSON["state"] != vault.JobRunning {
			break
		}
	}
	if st.Status != http.StatusOK || st.JSON["state"] != vault.JobDone || st.JSON["kind"] != vault.KindKeyRotation ||
		st.JSON["done"] != float64(5) || st.JSON["total"] != float64(5) || st.JSON["new_version"] != float64(2) {
		t.Fatalf("job status: %d %s", st.Status, st.Body)
	}
	if st.Header.Get("X-Audit-Seq") == "" {
		t.Error("job status read has no audit entry")
	}
	k := s.Do("GET", "/v1/keys", admin, "", nil)
	if k.Status != http.StatusOK || k.JSON["active_version"] != float64(2) {
		t.Fatalf("GET /v1/keys: %d %s", k.Status, k.Body)
	}
	keks := k.JSON["keks"].([]any)
	if len(keks) != 2 || keks[0].(map[string]any)["retired_at"] == nil || keks[1].(map[string]any)["active"] != true {
		t.Errorf("keks = %v, want 1 retired and 2 active", keks)
	}
	if chk := k.JSON["check"].(map[string]any); chk["deks"] != float64(5) || chk["missing"] != float64(0) {
		t.Errorf("check = %v", chk)
	}
	if lr := k.JSON["latest_rotation"].(map[string]any); lr["id"] != id {
		t.Errorf("latest rotation = %v, want %s", lr, id)
	}
	for _, role := range []string{"customer_service", "compliance_officer", "data_steward"} {
		tok := s.Token("x", role)
		for _, req := range [][2]string{{"POST", "/v1/keys/rotate"}, {"GET", "/v1/keys"}, {"GET", "/v1/jobs/" + id}} {
			r := s.Do(req[0], req[1], tok, "", nil)
			if r.Status != http.StatusForbidden || r.Header.Get("X-Audit-Seq") == "" {
				t.Errorf("%s %s as %s: %d (audit seq %q), want 403 with an audit entry", req[0], req[1], role, r.Status, r.Header.Get("X-Audit-Seq"))
			}
		}
	}
	if r := s.Do("GET", "/v1/jobs/rot_0000", admin, "", nil); r.Status != http.StatusNotFound {
		t.Errorf("unknown rotation job: %d", r.Status)
	}
	if r := s.Do("GET", "/readyz", "", "", nil); r.Status != http.StatusOK || r.JSON["keys"].(map[string]any)["ok"] != true {
		t.Errorf("readyz: %d %s", r.Status, r.Body)
	}
}
