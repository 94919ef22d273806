// core/number_format and core/json: the one number formatter, and the JSON
// `sweep` prints (output.proto through protobuf's printer): exact numbers,
// null for what JSON lacks, keys in their order, the same bytes every time.
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include <cfloat>
#include <cmath>
#include <string>

#include "core/claim.h"
#include "core/control.h"
#include "core/json.h"
#include "core/number_format.h"
#include "core/trial_state.h"
#include "output.pb.h"
#include "test_util.h"

namespace claimsweep {
namespace {

using google::protobuf::Struct;
using google::protobuf::Value;

// Values whose shortest text is long or odd.
const double kAwkward[] = {0.1 + 0.2,     1e-300,      9007199254740992.0 /* 2^53 */,
                           1e9,           0.1 + 0.7,   4294967296,
                           123456789.123, 0.123456789, 5e-324,
                           DBL_MAX,       -0.5,        1e15,
                           1e21,          2.5e-7};

Struct ParseStruct(const std::string& json) {
  Struct s;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(json, &s).ok()) << json;
  return s;
}

TEST(NumberFormat, FormatDoubleIsTheShortestTextThatReadsBackExactly) {
  EXPECT_EQ(FormatDouble(0.1 + 0.2), "0.30000000000000004");
  EXPECT_EQ(FormatDouble(0.1), "0.1");
  EXPECT_EQ(FormatDouble(1e-300), "1e-300");
  EXPECT_EQ(FormatDouble(1e-5), "1e-05");
  EXPECT_EQ(FormatDouble(1e9), "1000000000");
  EXPECT_EQ(FormatDouble(9007199254740992.0), "9007199254740992");
  EXPECT_EQ(FormatDouble(4), "4");
  EXPECT_EQ(FormatDouble(-3), "-3");
  EXPECT_EQ(FormatDouble(0.1 + 0.7), "0.7999999999999999");
  for (double v : kAwkward)
    EXPECT_EQ(std::strtod(FormatDouble(v).c_str(), nullptr), v) << FormatDouble(v);
}

TEST(NumberFormat, OnlyTheFormsForEyesRound) {
  EXPECT_EQ(FormatRounded(123456789.123), "1.235e+08");
  EXPECT_EQ(FormatRounded(0.123456789), "0.1235");
  EXPECT_EQ(FormatRounded(12), "12");
  EXPECT_EQ(FormatRounded(174868), "174868");  // integers stay whole
  EXPECT_EQ(FormatSignificant(1234567, 2), "1.2e+06");
  EXPECT_EQ(FormatFixed(12.34, 1), "12.3");
  EXPECT_EQ(FormatFixed(59.6, 0), "60");
  EXPECT_EQ(FormatFixed(1e300, 0).size(), 301u);  // no truncation
}

// A running trial's stop message gives the heartbeat it waits for: "%g" wrote
// 1.2345678 as 1.23457.
TEST(NumberFormat, ControlMessagesCarryExactSeconds) {
  testing::TempDir tmp;
  SweepSpec spec = testing::MustParse(R"(
    grid { param { name: "x" values: "1" } }
    command { argv: "true" }
    claim { lease_seconds: 30 heartbeat_seconds: 1.2345678 max_attempts: 2 })");
  SweepLayout layout(tmp.path() + "/s");
  testing::InitSweep(layout.root(), spec);
  Claimer a(Env::Default(), layout, spec.claim(), 1, "a");
  Claim c;
  ASSERT_OK(a.ClaimNext(&c));
  TrialControl ctl(Env::Default(), layout, spec.claim(), "ctl");
  ControlReport r;
  ASSERT_OK(ctl.Stop(0, &r));
  EXPECT_NE(r.what.find("within ~1.2345678 s"), std::string::npos) << r.what;
}

TEST(Json, NumbersReadBackExactlyAndIntegersPrintAsDigits) {
  OrderedStruct o;
  for (size_t i = 0; i < sizeof kAwkward / sizeof *kAwkward; ++i)
    AddNumber(&o, "v" + std::to_string(i), kAwkward[i]);
  std::string json;
  AppendJson(o, &json);
  const Struct back = ParseStruct(json);
  for (size_t i = 0; i < sizeof kAwkward / sizeof *kAwkward; ++i) {
    EXPECT_EQ(back.fields().at("v" + std::to_string(i)).number_value(), kAwkward[i]) << json;
  }
  // Counts and indices are doubles in output.proto: digits, never "strings"
  // or exponents (a sweep has at most 2^32 points; 2^53 is the last integer
  // every smaller one of which a double holds).
  EXPECT_NE(json.find("\"v3\":1000000000,"), std::string::npos) << json;
  EXPECT_NE(json.find("\"v5\":4294967296,"), std::string::npos) << json;
  EXPECT_NE(json.find("\"v2\":9007199254740992,"), std::string::npos) << json;
  EXPECT_NE(json.find("\"v0\":0.30000000000000004,"), std::string::npos) << json;
}

TEST(Json, NonFiniteNumbersAreNull) {
  OrderedStruct o;
  AddNumber(&o, "nan", NAN);
  AddNumber(&o, "inf", INFINITY);
  AddNumber(&o, "minus_inf", -INFINITY);
  AddNull(&o, "missing");
  std::string json;
  AppendJson(o, &json);
  EXPECT_EQ(json, "{\"nan\":null,\"inf\":null,\"minus_inf\":null,\"missing\":null}");
}

TEST(Json, AnOrderedStructKeepsItsKeyOrderAndEscapesWhatJsonMust) {
  OrderedStruct o;
  AddNumber(&o, "index", 113);
  AddString(&o, "lr", "0.01");
  AddString(&o, "depth", "76");
  AddString(&o, "tag", "a\nb\x1b[2Jd\"\\");
  AddString(&o, "k\"ey", "x");
  std::string json;
  AppendJson(o, &json);
  EXPECT_EQ(json,
            "{\"index\":113,\"lr\":\"0.01\",\"depth\":\"76\",\"tag\":\"a\\nb\\u001b[2Jd\\\"\\\\\","
            "\"k\\\"ey\":\"x\"}");
  EXPECT_EQ(ParseStruct(json).fields().at("tag").string_value(), "a\nb\x1b[2Jd\"\\");
}

TEST(Json, BytesThatAreNotUtf8BecomeReplacementCharacters) {
  EXPECT_EQ(ValidUtf8("plain/é/\xe2\x80\xa8"), "plain/é/\xe2\x80\xa8");
  EXPECT_EQ(ValidUtf8("a\xff"
                      "b"),
            "a\xEF\xBF\xBD"
            "b");
  EXPECT_EQ(ValidUtf8("\xc0\xaf"), "\xEF\xBF\xBD\xEF\xBF\xBD");                  // overlong '/'
  EXPECT_EQ(ValidUtf8("\xed\xa0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // a surrogate
  EXPECT_EQ(ValidUtf8("x\xe2\x80"), "x\xEF\xBF\xBD\xEF\xBF\xBD");                // cut short
  OrderedStruct o;
  AddString(&o, "dir", "/tmp/\xff");
  std::string json;
  AppendJson(o, &json);
  EXPECT_EQ(json, "{\"dir\":\"/tmp/\xEF\xBF\xBD\"}");  // kept (protobuf alone drops the byte)
}

// A Struct's map has no order of its own: the printer gets it sorted.
TEST(Json, TheSameMessagePrintsTheSameBytes) {
  Struct a, b;
  for (int i = 0; i < 200; ++i) (*a.mutable_fields())["k" + std::to_string(i)].set_number_value(i);
  for (int i = 199; i >= 0; --i) (*b.mutable_fields())["k" + std::to_string(i)].set_number_value(i);
  EXPECT_EQ(ToJson(a, false), ToJson(b, false));
  EXPECT_EQ(ToJson(a, false).rfind("{\"k0\":0,\"k1\":1,\"k10\":10,", 0), 0u) << ToJson(a, false);
}

// `sweep status --format json` names each count as TrialStateName names the state.
TEST(Json, StatusJsonHasACountPerStateInStateOrder) {
  const google::protobuf::Descriptor* d = StatusJson::descriptor();
  ASSERT_EQ(d->field(0)->name(), "total");
  for (int st = 0; st < kNumTrialStates; ++st) {
    const auto* f = d->FindFieldByName(TrialStateName(static_cast<TrialState>(st)));
    ASSERT_NE(f, nullptr) << TrialStateName(static_cast<TrialState>(st));
    EXPECT_EQ(f->index(), st + 1);
    EXPECT_EQ(f->type(), google::protobuf::FieldDescriptor::TYPE_DOUBLE);
  }
  StatusJson j;
  j.set_total(4294967296);
  j.set_pending(4294967295);
  EXPECT_EQ(ToJson(j, false),
            "{\"total\":4294967296,\"pending\":4294967295,\"running\":0,\"interrupted\":0,"
            "\"stale\":0,\"done\":0,"
            "\"failed\":0,\"stopped\":0,\"broken\":0,\"blocked\":0,\"logs\":[],\"stages\":[]}\n");
  auto& f = *j.mutable_broken_trials()->add_values()->mutable_struct_value()->mutable_fields();
  f["problem"].set_string_value("trials/000003 is a FIFO");
  f["index"].set_number_value(3);
  EXPECT_NE(ToJson(j, false).find(",\"logs\":[],\"stages\":[],\"broken_trials\":[{\"index\":3,"
                                  "\"problem\":\"trials/000003 is a FIFO\"}]}"),
            std::string::npos)
      << ToJson(j, false);
}

// A stage's object (`sweep status --stage S --format json`, and each of
// `stages`) has the same counts, after its name, kind and input.
TEST(Json, StageStatusJsonHasACountPerStateInStateOrder) {
  const google::protobuf::Descriptor* d = StageStatusJson::descriptor();
  ASSERT_EQ(d->field(3)->name(), "total");
  for (int st = 0; st < kNumTrialStates; ++st) {
    const auto* f = d->FindFieldByName(TrialStateName(static_cast<TrialState>(st)));
    ASSERT_NE(f, nullptr) << TrialStateName(static_cast<TrialState>(st));
    EXPECT_EQ(f->index(), st + 4);
    EXPECT_EQ(f->type(), google::protobuf::FieldDescriptor::TYPE_DOUBLE);
  }
  StageStatusJson j;
  j.set_stage("eval");
  j.set_kind("each_checkpoint");
  j.set_input("trials");
  j.set_total(6);
  j.set_blocked(1);
  auto& f = *j.mutable_blocked_items()->add_values()->mutable_struct_value()->mutable_fields();
  f["item"].set_string_value("000001-0002");
  f["problem"].set_string_value("trials/000001 failed (3 attempts)");
  EXPECT_EQ(ToJson(j, false),
            "{\"stage\":\"eval\",\"kind\":\"each_checkpoint\",\"input\":\"trials\",\"total\":6,"
            "\"pending\":0,\"running\":0,\"interrupted\":0,\"stale\":0,\"done\":0,\"failed\":0,"
            "\"stopped\":0,\"broken\":0,\"blocked\":1,\"logs\":[],\"blocked_items\":[{\"item\":"
            "\"000001-0002\",\"problem\":\"trials/000001 failed (3 attempts)\"}]}\n");
}

}  // namespace
}  // namespace claimsweep
