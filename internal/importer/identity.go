package importer

import (
	"os"

	"github.com/profilevault/profilevault/internal/ingest"
	"github.com/profilevault/profilevault/vault"
)

// identityGroups is which subject records may turn out to be one person: records linked, directly or
// through others, by an id number, a phone, an email or a source's external id, or by a name key (a name within one edit
// of another's and the same birth date, which identity resolution queues for review). Identity resolution
// matches on those, so a group's records go to one worker, in file order, and the first of them is the one
// the others merge into, or are queued for review against — on every run. Routing by one key alone (the
// phone, else the email) sent a record sharing only its email with an earlier one to another worker, and
// which of the two was imported first, and so kept, depended on the scheduler; without the name keys, two
// workers' records with similar names missed each other when both were looked up before either was
// created (more often once the vault imports a worker's records in batches).
type identityGroups struct {
	parent map[string]string // union-find over the records' keys
}

// subjectKeys are a cleaned record's identity keys.
func subjectKeys(s *ingest.SubjectRow) []string {
	keys := make([]string, 0, 4)
	if id := s.Fields["id_number"]; id != "" {
		keys = append(keys, "id:"+id)
	}
	if p := s.Fields["phone"]; p != "" {
		keys = append(keys, "phone:"+p)
	}
	if e := s.Fields["email"]; e != "" {
		keys = append(keys, "email:"+e)
	}
	for _, k := range vault.NameKeys(s.Fields["name"], s.Fields["birth_date"]) {
		keys = append(keys, "name:"+k)
	}
	return append(keys, "external:"+s.Source+":"+s.ExternalID)
}

// scanIdentityGroups reads a subjects file once, cleaning each record with a cleaner of its own (so the
// import's counts are not doubled) and joining the keys of each record.
func scanIdentityGroups(f file, cleaner *ingest.Cleaner) (*identityGroups, error) {
	fh, err := os.Open(f.path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	g := &identityGroups{parent: map[string]string{}}
	r := ingest.NewReader(fh, f.kind, f.format)
	defer r.Close()
	for row, ok := r.Next(); ok; row, ok = r.Next() {
		if row.Err != nil || row.Subject == nil {
			continue // the import pass reports it
		}
		if _, rerr := cleaner.Subject(row.Subject); rerr != nil {
			continue
		}
		g.join(subjectKeys(row.Subject))
	}
	return g, nil
}

// join puts keys in one group.
func (g *identityGroups) join(keys []string) {
	root := g.find(keys[0])
	for _, k := range keys[1:] {
		if r := g.find(k); r != root {
			g.parent[r] = root
		}
	}
}

// find returns the key naming k's group (k itself for a key never seen), halving paths as it goes.
func (g *identityGroups) find(k string) string {
	for {
		p, ok := g.parent[k]
		if !ok || p == k {
			return k
		}
		if gp, ok := g.parent[p]; ok && gp != p {
			g.parent[k] = gp
		}
		k = p
	}
}

// route picks the worker of a cleaned record: its group's.
func (g *identityGroups) route(s *ingest.SubjectRow, n int) int {
	return routeKey(g.find(subjectKeys(s)[0]), n)
}
