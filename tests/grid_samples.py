"""A small 附件1 table as plain text cells, shared by the normaliser and shape tests."""
from service.extract.grid import Grid
from service.extract.normalise import normalise_grid

HEADER = ["序号", "县（市、区）", "举办单位", "活动名称", "活动形式及具体内容",
          "活动成效（含参与主体数量、商品数量、销售额等）", "备注"]
ROW1 = ["1", "芙蓉区", "芙蓉区商务局", "年货节启动仪式", "直播带货", "参与企业120家，销售额1.2亿元", ""]
ROW2 = ["2", "岳麓区", "岳麓区商务局", "岳麓山下年货云购", "直播专场", "参与商家85家", "与美团合作"]
TITLE = ["“2022湖南网上年货节”重点活动统计表", "", "", "", "", "", ""]
UNIT = ["填报单位（盖章）：长沙市商务局", "", "", "", "", "", ""]
CONTACT = ["联系人：王敏 职务：科长 联系方式：13812345678 邮箱：cssw@example.com", "", "", "", "", "", ""]


def normalised(cells, merged=(), merges_known=True, preamble=()):
    """normalise_grid over cells as Sheet1 of 附件1.xlsx: (Table or None, problems)."""
    grid = Grid("Sheet1", [list(r) for r in cells], list(merged), preamble=tuple(preamble), merges_known=merges_known)
    return normalise_grid(grid, "附件1.xlsx")
