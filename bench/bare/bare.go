// Package bare is the baseline of the load benchmarks: a bare Gin handler that answers GET
// /v1/subjects/{id} with a fixed JSON body of the same shape and size as the vault's answer, so the ratio
// vault/bare shows what authentication, policy, audit and decryption cost on top of Gin itself.
package bare

import (
	"net/http"

	"github.com/gin-gonic/gin"
)

// Handler returns the baseline engine.
func Handler() http.Handler {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	body := map[string]any{"id": "", "purpose": "customer_service", "fields": map[string]string{
		"name": "王芳", "phone": "+8613800001234", "email": "user000001@example.cn", "city": "杭州", "province": "浙江",
		"district": "西湖区", "address_line": "人民路1号2栋303室", "gender": "female", "birth_date": "1990-04-01"},
		"withheld": []map[string]string{{"field": "id_number", "reason": "not_permitted_for_purpose"}}, "audit_seq": 1}
	r.GET("/v1/subjects/:id", func(c *gin.Context) {
		c.Header("Cache-Control", "no-store")
		c.JSON(http.StatusOK, body)
	})
	return r
}
