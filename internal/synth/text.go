package synth

import (
	"math/rand/v2"
	"strings"
)

// Review, chat and complaint texts are filled from templates whose sentiment is known by construction:
// positive templates use positive words (好, 满意, 喜欢, good, satisfied), optionally raised by a degree
// adverb (很, 非常, 特别, very, really, extremely); negative templates use a negated positive word (不好,
// 不满意, not good, not satisfied) or a negative word (差, 失望, bad, disappointed, poor); neutral templates use
// words without polarity (一般, 还行, okay, average) or are plain questions.

var (
	aspectsZH = []string{"质量", "做工", "物流", "包装", "客服", "性价比", "颜色", "尺码"}
	aspectsEN = []string{"quality", "workmanship", "delivery", "packaging", "customer service", "value for money", "colour", "size"}
	degreeZH  = []string{"", "很", "非常", "特别"}
	degreeEN  = []string{"", "very ", "really ", "extremely "}

	reviewZH = [3][]string{
		{"{a}不好", "{a}{d}差", "{d}失望，{a}不好", "不满意，{a}{d}差", "{a}不好，不会再买了"},
		{"{a}一般", "还行吧，{a}一般", "收到了，{a}普通"},
		{"{a}{d}好", "{d}满意，{a}{d}好", "{d}喜欢，会回购", "{a}{d}好，推荐购买"},
	}
	reviewEN = [3][]string{
		{"The {a} is not good.", "{d}disappointed, the {a} is bad.", "Not satisfied, the {a} is {d}poor.", "The {a} is not good, would not buy again."},
		{"The {a} is okay.", "The {a} is average.", "Received it, the {a} is okay."},
		{"The {a} is {d}good.", "{d}satisfied with the {a}.", "Love it, the {a} is {d}good.", "{d}good {a}, recommended."},
	}
	chatZH = [3][]string{
		{"等了很久还没发货，{d}不满意", "物流{d}慢，不好", "客服回复{d}慢，{d}失望"},
		{"请问什么时候发货？", "这款有优惠券吗？", "请问有M码吗？", "可以开发票吗？", "请问{a}怎么样？"},
		{"谢谢，客服{d}好", "问题解决了，{d}满意", "收到了，{d}喜欢，谢谢"},
	}
	chatEN = [3][]string{
		{"Still not shipped, {d}disappointed.", "The delivery is not good.", "The reply was {d}slow, not satisfied."},
		{"When will my order ship?", "Is there a coupon for this item?", "Do you have this in size M?", "Can I get an invoice?", "How is the {a}?"},
		{"Thanks, the customer service is {d}good.", "Problem solved, {d}satisfied.", "Got it, {d}good, thanks."},
	}
	complaintZH = []string{"商品{a}{d}差，要求退货", "客服态度不好，{d}不满意", "收到的商品有破损，{d}失望", "发错货了，{d}不满意"}
	complaintEN = []string{"The item arrived damaged, {d}disappointed.", "The {a} is not good, I want a refund.", "Wrong item delivered, not satisfied.", "The {a} is {d}bad, please help."}

	cancelReasons = []string{"changed_mind", "found_cheaper", "wrong_item", "delivery_too_slow", "duplicate_order"}
	returnReasons = []string{"quality_issue", "wrong_size", "not_as_described", "damaged_in_transit", "no_longer_needed"}
)

// fill fills a template: {a} with an aspect and each {d} with a degree adverb (possibly none); a sentence
// that starts with a lower-case English letter is capitalised.
func fill(r *rand.Rand, tmpl string, en bool) string {
	aspects, degrees := aspectsZH, degreeZH
	if en {
		aspects, degrees = aspectsEN, degreeEN
	}
	s := tmpl
	if strings.Contains(s, "{a}") {
		s = strings.ReplaceAll(s, "{a}", aspects[r.IntN(len(aspects))])
	}
	for strings.Contains(s, "{d}") {
		s = strings.Replace(s, "{d}", degrees[r.IntN(len(degrees))], 1)
	}
	if en && s != "" && s[0] >= 'a' && s[0] <= 'z' {
		s = string(s[0]-'a'+'A') + s[1:]
	}
	return s
}

// reviewText returns a review text of the given sentiment (-1, 0, +1).
func reviewText(r *rand.Rand, en bool, sentiment int) string {
	set := reviewZH
	if en {
		set = reviewEN
	}
	t := set[sentiment+1]
	return fill(r, t[r.IntN(len(t))], en)
}

// chatText returns a chat message of the given sentiment.
func chatText(r *rand.Rand, en bool, sentiment int) string {
	set := chatZH
	if en {
		set = chatEN
	}
	t := set[sentiment+1]
	return fill(r, t[r.IntN(len(t))], en)
}

// complaintText returns a complaint (always negative).
func complaintText(r *rand.Rand, en bool) string {
	t := complaintZH
	if en {
		t = complaintEN
	}
	return fill(r, t[r.IntN(len(t))], en)
}

// rating returns a 1–5 star rating consistent with a sentiment.
func rating(r *rand.Rand, sentiment int) int {
	switch sentiment {
	case 1:
		return 4 + r.IntN(2)
	case -1:
		return 1 + r.IntN(2)
	}
	return 3
}
