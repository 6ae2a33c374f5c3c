package webui

import (
	"net/http"
	"strings"
)

// languages the pages are written in; the first is the default.
var languages = []string{"en", "zh"}

// strings are the pages' texts, by key, in each language. The scripts get the same table (as JSON in the
// page), so a text is written once for the server and the browser.
var phrases = map[string][2]string{ // [en, zh]
	"brand":                     {"Profile Vault", "用户画像保险库"},
	"lang.switch":               {"中文", "English"},
	"signout":                   {"Sign out", "退出"},
	"signin.title":              {"Sign in", "登录"},
	"signin.lead":               {"Paste your access token once. It stays on the server, behind a session cookie this browser cannot read; it is never stored in the page.", "粘贴一次访问令牌。令牌只保存在服务器上，浏览器只持有一个脚本无法读取的会话 Cookie，页面中不保存令牌。"},
	"signin.token":              {"Access token (JWT)", "访问令牌（JWT）"},
	"signin.submit":             {"Sign in", "登录"},
	"signin.bad":                {"That token was not accepted (expired, wrong issuer or audience, or a bad signature).", "该令牌未被接受（已过期、签发方或受众不符，或签名无效）。"},
	"signin.full":               {"Too many open sessions; try again later.", "当前会话过多，请稍后再试。"},
	"signin.demo":               {"Demo: sign in as a demo person or a demo staff role", "演示：以演示用户或演示员工角色登录"},
	"demo.title":                {"Demo sign-in", "演示登录"},
	"demo.lead":                 {"This page exists only under vaultd demo. Pick who to be; a token is minted for you and kept on the server.", "此页面仅在 vaultd demo 下存在。选择身份后，服务器为你签发令牌并保存在服务器端。"},
	"demo.person":               {"Demo person", "演示用户"},
	"demo.staff":                {"Staff role", "员工角色"},
	"refused.title":             {"Not for your roles", "你的角色无权访问"},
	"refused.lead":              {"This page is for other roles. Your roles:", "此页面属于其他角色。你的角色："},
	"csrf.title":                {"Request refused", "请求被拒绝"},
	"csrf.lead":                 {"The form did not carry this session's anti-forgery token. Reload the page and try again.", "表单未携带本会话的防伪令牌。请刷新页面后重试。"},
	"privacy.title":             {"Privacy centre", "隐私中心"},
	"privacy.profile":           {"Your profile", "你的资料"},
	"privacy.channels":          {"Messages by:", "接收渠道："},
	"privacy.stopchannel":       {"Stop messages on this channel only", "仅停止此渠道的商业信息"},
	"privacy.underrequest":      {"under an approved request", "依据已批准的访问申请"},
	"privacy.noticefull":        {"The processing notice: who handles your data and your rights", "个人信息处理告知：处理者与你的权利"},
	"privacy.handler":           {"Handler", "个人信息处理者"},
	"privacy.dpo":               {"Personal information protection officer", "个人信息保护负责人"},
	"privacy.rights":            {"Your rights", "你的权利"},
	"privacy.categories":        {"Categories", "信息类别"},
	"privacy.recipients":        {"Recipients", "接收方"},
	"privacy.correct":           {"Correct a field", "更正字段"},
	"privacy.field":             {"Field", "字段"},
	"privacy.value":             {"Value", "值"},
	"privacy.save":              {"Save", "保存"},
	"privacy.tags":              {"Your tags and why you have them", "你的标签及其原因"},
	"privacy.notices":           {"Incidents that concern your data", "与你的数据有关的安全事件"},
	"privacy.detected":          {"Detected", "发现时间"},
	"privacy.purposes":          {"Purposes, legal bases and your consent", "处理目的、法律依据与你的同意"},
	"privacy.basis":             {"Legal basis", "法律依据"},
	"privacy.notice":            {"Notice version", "告知版本"},
	"privacy.retention":         {"Kept for (days)", "保存期限（天）"},
	"privacy.consent":           {"Your consent", "你的同意"},
	"privacy.grant":             {"Grant", "同意"},
	"privacy.withdraw":          {"Withdraw", "撤回"},
	"privacy.guardian":          {"You are under 14: only a parent or guardian can give this consent (PIPL Art. 31). They can record it with our service team.", "你未满 14 周岁：此项同意只能由父母或其他监护人作出（个人信息保护法第31条），可由监护人通过客服记录。"},
	"privacy.ageunknown":        {"We do not know your birth date, and this purpose treats children differently: add your birth date under “Correct a field” before consenting.", "我们不知道你的出生日期，而此目的对儿童有不同处理：请先在“更正字段”中填写出生日期，再作出同意。"},
	"privacy.objection":         {"Personalised marketing", "个性化营销"},
	"privacy.object":            {"Object to personalised marketing", "拒绝个性化营销"},
	"privacy.unobject":          {"Lift my objection", "撤销拒绝"},
	"privacy.objected":          {"You object to personalised marketing.", "你已拒绝个性化营销。"},
	"privacy.notobj":            {"You do not object to personalised marketing.", "你未拒绝个性化营销。"},
	"privacy.log":               {"Who accessed your data and why", "谁访问了你的数据及原因"},
	"privacy.more":              {"More", "更多"},
	"privacy.export":            {"Export your data", "导出你的数据"},
	"privacy.json":              {"Download JSON", "下载 JSON"},
	"privacy.zip":               {"Download ZIP (JSON, CSV, signed manifest)", "下载 ZIP（JSON、CSV、签名清单）"},
	"privacy.requests":          {"Your requests", "你的申请"},
	"privacy.file":              {"File a request", "提交申请"},
	"privacy.delete":            {"Delete your account and data", "删除你的账户和数据"},
	"privacy.confirm":           {"I understand that this cannot be undone", "我了解此操作无法撤销"},
	"privacy.erase":             {"Delete", "删除"},
	"privacy.erased":            {"Erased. Receipt:", "已删除。回执："},
	"privacy.held":              {"Erased, except records the law keeps until the hold ends:", "已删除，但法律要求保留的记录在保留期结束前仍保存："},
	"col.time":                  {"Time", "时间"},
	"col.roles":                 {"Roles", "角色"},
	"col.team":                  {"Team", "团队"},
	"col.purpose":               {"Purpose", "目的"},
	"col.action":                {"Action", "操作"},
	"col.fields":                {"Fields", "字段"},
	"col.decision":              {"Decision", "决定"},
	"col.type":                  {"Type", "类型"},
	"col.state":                 {"State", "状态"},
	"col.created":               {"Filed", "提交时间"},
	"col.due":                   {"Due", "截止时间"},
	"col.seq":                   {"Seq", "序号"},
	"col.actor":                 {"Actor", "操作者"},
	"col.subject":               {"Subject ref", "主体引用"},
	"col.tag":                   {"Tag", "标签"},
	"col.why":                   {"Why", "原因"},
	"col.answer":                {"Answer or reason", "答复或理由"},
	"request.access":            {"Access and a copy", "查阅、复制"},
	"request.portability":       {"Transfer (portability)", "转移"},
	"request.correction":        {"Correction", "更正、补充"},
	"request.deletion":          {"Deletion", "删除"},
	"request.restriction":       {"Restriction of processing", "限制处理"},
	"request.explanation":       {"Explanation of the processing rules", "解释说明处理规则"},
	"request.deceased_relative": {"A close relative of a deceased person", "近亲属（死者）"},
	"state.received":            {"Received", "已收到"},
	"state.verified":            {"Verified", "已核验"},
	"state.in_progress":         {"In progress", "处理中"},
	"state.completed":           {"Completed", "已完成"},
	"state.rejected":            {"Rejected", "已拒绝"},
	"state.withdrawn":           {"Withdrawn", "已撤回"},
	"privacy.withdrawrequest":   {"Withdraw this request", "撤回此申请"},
	"privacy.restriction":       {"Restriction of processing", "限制处理"},
	"privacy.restricted":        {"You asked us to restrict the processing of your data: staff see none of it and it feeds no tag or campaign until you lift the restriction.", "您已要求限制处理您的个人信息：在您解除之前，工作人员看不到这些数据，也不会用于标签或营销活动。"},
	"privacy.lift":              {"Lift the restriction", "解除限制"},
	"none":                      {"None.", "无。"},
	"loading":                   {"Loading…", "加载中…"},
	"error":                     {"Refused:", "被拒绝："},
	"done":                      {"Done.", "已完成。"},
	"console.title":             {"Staff console", "员工控制台"},
	"console.lead":              {"The pages your roles may use. Every action goes through the same API and is recorded in the audit trail.", "你的角色可以使用的页面。每个操作都经过同一 API，并记录在审计日志中。"},
	"console.nopages":           {"No console page is open to your roles.", "你的角色没有可用的控制台页面。"},
	"page.audit":                {"Audit browser", "审计日志浏览"},
	"page.audiences":            {"Audiences", "营销人群"},
	"aud.build":                 {"Build an audience", "创建人群"},
	"aud.name":                  {"Name", "名称"},
	"aud.rule":                  {"Rule over tags", "标签规则"},
	"aud.channel":               {"Channel", "渠道"},
	"aud.holdout":               {"Holdout share (0–0.5)", "对照组比例（0–0.5）"},
	"aud.submit":                {"Build", "创建"},
	"aud.plan":                  {"Campaign plan (strategy tiers)", "分层营销方案"},
	"aud.plannow":               {"Plan the campaign for everyone reachable", "为所有可触达的人生成方案"},
	"aud.tier":                  {"Tier", "层级"},
	"aud.content":               {"Content", "内容"},
	"aud.size":                  {"Treated", "实验组"},
	"aud.holdoutn":              {"Holdout", "对照组"},
	"aud.excluded":              {"Excluded", "已排除"},
	"aud.unmatched":             {"matching no tier:", "未匹配任何层级："},
	"aud.marker":                {"Every message carries", "每条消息须标注"},
	"aud.list":                  {"Audiences built", "已创建的人群"},
	"aud.report":                {"Uplift report", "提升报告"},
	"aud.treated":               {"Treated", "实验组"},
	"aud.holdoutg":              {"Holdout", "对照组"},
	"aud.diff":                  {"Difference", "差值"},
	"aud.ci":                    {"95 % interval", "95% 区间"},
	"aud.relative":              {"Relative", "相对提升"},
	"aud.sig":                   {"significant", "显著"},
	"aud.notsig":                {"not significant", "不显著"},
	"aud.at":                    {"at position", "位置"},
	"page.access":               {"Access requests", "访问申请"},
	"access.file":               {"Ask for access beyond your role", "申请超出角色基线的访问"},
	"access.what":               {"What (purpose: categories or fields)", "申请内容（目的：类别或字段）"},
	"access.subjects":           {"Subject ids (one per line, at most 1,000)", "主体 ID（每行一个，最多 1000 个）"},
	"access.subjectsn":          {"subjects", "个主体"},
	"access.reason":             {"Reason category", "理由类别"},
	"access.justification":      {"Justification (kept encrypted)", "理由说明（加密保存）"},
	"access.duration":           {"Duration", "时长"},
	"access.maxreads":           {"Most reads (0: no limit)", "最多读取次数（0 为不限）"},
	"access.submit":             {"Send the request", "提交申请"},
	"access.queue":              {"Requests to decide", "待审批的申请"},
	"access.requester":          {"Requested by", "申请人"},
	"access.scope":              {"Scope", "范围"},
	"access.mine":               {"Your requests", "你的申请"},
	"access.expires":            {"Expires", "到期时间"},
	"access.grant":              {"Grant", "授权"},
	"access.reads":              {"Reads", "读取次数"},
	"access.readsof":            {"reads under it", "依此授权的读取"},
	"access.revoke":             {"Revoke", "撤销"},
	"access.approve":            {"Approve", "批准"},
	"access.deny":               {"Deny", "拒绝"},
	"access.note":               {"note", "备注"},
	"page.charts":               {"Charts", "统计图表"},
	"charts.days":               {"Days", "天数"},
	"charts.consent":            {"Consent rate per purpose (share of subjects with a valid consent at each day's end)", "各目的同意率（每日结束时持有有效同意的主体比例）"},
	"charts.purpose":            {"Accesses per declared purpose per day", "每日按声明目的统计的访问量"},
	"charts.role":               {"Accesses per role per day", "每日按角色统计的访问量"},
	"charts.denied":             {"Denied accesses per day, against all", "每日被拒绝的访问与总访问"},
	"charts.numbers":            {"The numbers", "数据"},
	"page.requests":             {"Request queue", "个人权利请求队列"},
	"page.policy":               {"Policy matrix", "策略矩阵"},
	"page.imports":              {"Import reports", "导入报告"},
	"page.incidents":            {"Incidents", "安全事件"},
	"incidents.record":          {"Record an incident", "记录安全事件"},
	"incidents.title":           {"Title", "标题"},
	"incidents.detected":        {"Detected at", "发现时间"},
	"incidents.actor":           {"Actor (token subject; empty: every access in the window)", "行为者（令牌主体；留空：时间窗内的所有访问）"},
	"incidents.since":           {"From (empty: the start of the trail)", "起始（留空：审计日志开头）"},
	"incidents.until":           {"Until (empty: now)", "截止（留空：现在）"},
	"incidents.summary":         {"What the people affected are told", "告知受影响者的内容"},
	"incidents.save":            {"Record", "记录"},
	"incidents.affected":        {"People affected", "受影响人数"},
	"incidents.queued":          {"Notices queued", "已排队通知"},
	"incidents.notify":          {"Notify", "通知"},
	"incidents.notified":        {"Notified; notices queued:", "已通知；排队通知数："},
	"incidents.recorded":        {"Recorded; people affected:", "已记录；受影响人数："},
	"incident.open":             {"open", "未通知"},
	"incident.notified":         {"notified", "已通知"},
	"page.identity":             {"Identity reviews", "身份合并复核"},
	"requests.overdue":          {"overdue only", "仅逾期"},
	"requests.note":             {"Note", "备注"},
	"requests.move":             {"Move to", "转为"},
	"requests.reason":           {"reason", "理由"},
	"requests.late":             {"overdue", "已逾期"},
	"policy.lead":               {"What each role may read or write for each purpose, per category, with the mask. Policy hash:", "各角色在各目的下对各类别可读写的内容及脱敏方式。策略哈希："},
	"policy.action":             {"Action", "操作"},
	"identity.lead":             {"Pairs of records that may be one person. Decide whether they are two people or the same person.", "可能属于同一人的记录对。请判断是两个人还是同一人。"},
	"identity.pair":             {"Records", "记录"},
	"identity.reason":           {"Why", "原因"},
	"identity.decide":           {"Decision", "决定"},
	"identity.distinct":         {"Two people", "两个人"},
	"identity.same_person":      {"Same person", "同一人"},
	"audit.filters":             {"Filters", "筛选"},
	"audit.subject":             {"Subject id", "主体 ID"},
	"audit.since":               {"Since", "开始时间"},
	"audit.until":               {"Until", "结束时间"},
	"audit.any":                 {"any", "全部"},
	"audit.search":              {"Search", "查询"},
	"audit.first":               {"First page", "第一页"},
	"audit.next":                {"Next page", "下一页"},
	"identity.more":             {"Show more", "显示更多"},
	"audit.entry":               {"Entry", "条目"},
	"audit.prove":               {"Check its inclusion proof here", "在本页校验其包含证明"},
	"audit.verified":            {"Verified: the entry is in the tree of the signed checkpoint", "已验证：该条目包含在已签名检查点的树中"},
	"audit.failed":              {"NOT verified", "验证失败"},
	"audit.pending":             {"Not covered by a checkpoint yet; retrying…", "尚未被检查点覆盖，正在重试…"},
	"audit.checkpoint":          {"Latest checkpoint", "最新检查点"},
	"audit.size":                {"Tree size", "树大小"},
	"audit.root":                {"Root hash", "根哈希"},
	"audit.verify":              {"Verify the whole trail", "校验整个审计日志"},
	"audit.ok":                  {"Intact", "完好"},
	"audit.bad":                 {"Tampering found at seq", "发现篡改，位置"},
}

// texts is the table of one language.
func texts(lang string) map[string]string {
	i := 0
	if lang == "zh" {
		i = 1
	}
	m := make(map[string]string, len(phrases))
	for k, v := range phrases {
		m[k] = v[i]
	}
	return m
}

// language picks the page language: the switch's cookie, else Accept-Language, else English.
func language(r *http.Request) string {
	if c, err := cookie(r, langCookie); err == nil && validLang(c.Value) {
		return c.Value
	}
	for _, part := range strings.Split(r.Header.Get("Accept-Language"), ",") {
		tag := strings.ToLower(strings.TrimSpace(strings.SplitN(part, ";", 2)[0]))
		for _, l := range languages {
			if tag == l || strings.HasPrefix(tag, l+"-") {
				return l
			}
		}
	}
	return languages[0]
}

func validLang(l string) bool {
	for _, have := range languages {
		if l == have {
			return true
		}
	}
	return false
}
