// The demo world: deterministic from its seed, and the hold-out the demo's claim rests on — finance facts
// appear only in the finance corpus (as prose), never in the general corpus or in any chat data.
#include "pipeline/demo_world.h"

#include <gtest/gtest.h>

#include <set>

#include "pipeline/demo_eval.h"

namespace fm {
namespace {

DemoWorldOptions SmallOptions(uint64_t seed) {
  DemoWorldOptions o;
  o.seed = seed;
  o.people = 20;
  o.cities = 6;
  o.species = 6;
  o.organizations = 6;
  o.companies = 8;
  o.general_docs_per_entity = 3;
  o.finance_docs_per_company = 4;
  o.simple_tasks = 60;
  o.heldout_simple_tasks = 10;
  return o;
}

DemoWorld Make(uint64_t seed) {
  DemoWorld w;
  Status s = GenerateDemoWorld(SmallOptions(seed), &w);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return w;
}

TEST(DemoWorld, SameSeedSameWorldOtherSeedOtherWorld) {
  DemoWorld a = Make(7), b = Make(7), c = Make(8);
  EXPECT_EQ(a.general_docs, b.general_docs);
  EXPECT_EQ(a.finance_docs, b.finance_docs);
  ASSERT_EQ(a.sft_train.size(), b.sft_train.size());
  for (size_t i = 0; i < a.sft_train.size(); i++) {
    EXPECT_EQ(a.sft_train[i].user, b.sft_train[i].user);
    EXPECT_EQ(a.sft_train[i].assistant, b.sft_train[i].assistant);
  }
  EXPECT_EQ(a.finance_only_names, b.finance_only_names);
  EXPECT_NE(a.general_docs, c.general_docs);
  EXPECT_NE(a.finance_only_names, c.finance_only_names);
}

TEST(DemoWorld, SizesFollowTheOptions) {
  DemoWorld w = Make(1);
  const DemoWorldOptions o = SmallOptions(1);
  EXPECT_EQ(w.finance_facts.size(), static_cast<size_t>(o.companies) * 5);
  EXPECT_EQ(w.finance_chat.size(), w.finance_facts.size());
  EXPECT_EQ(w.finance_mc.size(), w.finance_facts.size());
  EXPECT_EQ(w.general_docs.size(), static_cast<size_t>((o.people + o.cities + o.species + o.organizations) *
                                                       o.general_docs_per_entity));
  EXPECT_EQ(w.finance_docs.size(), static_cast<size_t>(o.companies * o.finance_docs_per_company));
  EXPECT_EQ(w.finance_only_names.size(), static_cast<size_t>(o.companies) * 3);
}

TEST(DemoWorld, FinanceNamesAppearOnlyInTheFinanceCorpus) {
  for (uint64_t seed : {1, 2, 3}) {
    DemoWorld w = Make(seed);
    for (const std::string& name : w.finance_only_names) {
      for (const std::string& d : w.general_docs)
        ASSERT_EQ(d.find(name), std::string::npos) << name << " in " << d;
      for (const auto& c : w.sft_train) {
        ASSERT_EQ(c.user.find(name), std::string::npos) << name;
        ASSERT_EQ(c.assistant.find(name), std::string::npos) << name;
      }
      for (const auto& c : w.sft_val) ASSERT_EQ(c.user.find(name), std::string::npos) << name;
      for (const auto& q : w.general_chat) ASSERT_EQ(q.question.find(name), std::string::npos) << name;
      bool in_finance = false;
      for (const std::string& d : w.finance_docs) in_finance |= d.find(name) != std::string::npos;
      EXPECT_TRUE(in_finance) << name;
    }
  }
}

TEST(DemoWorld, EveryFinanceFactIsStatedInSeveralFinanceDocuments) {
  DemoWorld w = Make(4);
  for (const DemoFact& f : w.finance_facts) {
    int docs = 0;
    for (const std::string& d : w.finance_docs) {
      const size_t e = d.find(f.entity);
      docs += e != std::string::npos && d.find(f.value) != std::string::npos;
    }
    EXPECT_GE(docs, SmallOptions(4).finance_docs_per_company) << f.entity << " / " << f.attribute;
  }
}

TEST(DemoWorld, EvaluationQuestionsAreNotTrainingData) {
  DemoWorld w = Make(5);
  std::set<std::string> sft_users;
  for (const auto& c : w.sft_train) sft_users.insert(c.user);
  // Finance questions: never in chat data, and their wording never occurs in any corpus.
  for (const auto& q : w.finance_chat) {
    EXPECT_EQ(sft_users.count(q.question), 0u) << q.question;
    for (const auto* docs : {&w.general_docs, &w.finance_docs}) {
      for (const std::string& d : *docs) ASSERT_EQ(d.find(q.question), std::string::npos) << q.question;
    }
  }
  // Held-out general questions: not asked in the instruction set, and their entities never asked about there.
  int entity_questions = 0;
  for (const auto& q : w.general_chat) {
    EXPECT_EQ(sft_users.count(q.question), 0u) << q.question;
    for (const DemoFact& f : w.general_facts) {
      if (q.kind != f.attribute || q.question.find(" " + f.entity) == std::string::npos) continue;
      entity_questions++;
      for (const auto& c : w.sft_train) {
        // "of X?" / "X's" / "of X." are how questions name their entity.
        for (const std::string& form : {"of " + f.entity + "?", "of " + f.entity + ".", f.entity + "'s"}) {
          ASSERT_EQ(c.user.find(form), std::string::npos) << f.entity << " asked in SFT: " << c.user;
        }
      }
    }
  }
  EXPECT_GT(entity_questions, 0);
  // Their answers are facts of the general corpus.
  for (const auto& q : w.general_chat) {
    if (q.kind == "repeat" || q.kind == "next number" || q.kind == "larger number" || q.kind == "first word")
      continue;
    bool stated = false;
    for (const std::string& d : w.general_docs) stated |= d.find(q.answer) != std::string::npos;
    EXPECT_TRUE(stated) << q.answer;
  }
}

TEST(DemoWorld, MultipleChoiceItemsAreWellFormed) {
  DemoWorld w = Make(6);
  for (size_t i = 0; i < w.finance_mc.size(); i++) {
    const DemoMcQuestion& q = w.finance_mc[i];
    ASSERT_EQ(q.choices.size(), 4u);
    std::set<std::string> distinct(q.choices.begin(), q.choices.end());
    EXPECT_EQ(distinct.size(), 4u);
    EXPECT_EQ(q.choices[q.label], " " + w.finance_facts[i].value + ".");
    EXPECT_EQ(q.context, "The " + w.finance_facts[i].attribute + " of " + w.finance_facts[i].entity + " is");
  }
}

TEST(DemoWorld, InstructionRepliesUseTheAnswerFormat) {
  DemoWorld w = Make(2);
  std::string v;
  for (const auto& c : w.sft_train) {
    ASSERT_TRUE(ParseDemoAnswer(c.assistant, &v)) << c.assistant;
    EXPECT_EQ(DemoAnswer(v), c.assistant);
  }
}

TEST(DemoWorld, ParseDemoAnswer) {
  std::string v;
  EXPECT_TRUE(ParseDemoAnswer("Answer: Karvo.", &v));
  EXPECT_EQ(v, "Karvo");
  EXPECT_TRUE(ParseDemoAnswer("Answer: $412 million.", &v));
  EXPECT_EQ(v, "$412 million");
  EXPECT_FALSE(ParseDemoAnswer("Answer: Karvo", &v));
  EXPECT_FALSE(ParseDemoAnswer("Answer: .", &v));
  EXPECT_FALSE(ParseDemoAnswer("answer: Karvo.", &v));
  EXPECT_FALSE(ParseDemoAnswer("Answer: Karvo.\nAnswer: Karvo.", &v));
  EXPECT_FALSE(ParseDemoAnswer("The headquarters is Karvo.", &v));
}

TEST(DemoWorld, RejectsImpossibleOptions) {
  DemoWorldOptions o = SmallOptions(1);
  o.companies = 2;
  DemoWorld w;
  EXPECT_FALSE(GenerateDemoWorld(o, &w).ok());
}

}  // namespace
}  // namespace fm
